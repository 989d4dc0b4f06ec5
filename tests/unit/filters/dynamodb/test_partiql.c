/* Tests filters/dynamodb/partiql.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "filters/dynamodb/partiql.h"

#define S PARTIQL_SELECT
#define I PARTIQL_INSERT
#define U PARTIQL_UPDATE
#define D PARTIQL_DELETE

struct ok_case {
	const char *stmt;
	enum partiql_verb verb;
	const char *table, *index;
	bool exists, where, scan;
	unsigned nparams;
};

static void
check_ok(const struct ok_case *c, size_t n)
{
	struct partiql_statement st;
	char why[PARTIQL_WHY_MAX];
	size_t i;

	for (i = 0; i < n; i++) {
		enum partiql_status rc = partiql_read(c[i].stmt, strlen(c[i].stmt), &st, why, sizeof(why));

		if (rc != PARTIQL_OK)
			fail_msg("refused (%d, %s): %s", rc, why, c[i].stmt);
		if (st.verb != c[i].verb || strcmp(st.table, c[i].table) != 0 || strcmp(st.index, c[i].index) != 0 ||
		    st.exists != c[i].exists || st.has_where != c[i].where || st.full_table_scan != c[i].scan ||
		    st.nparams != c[i].nparams)
			fail_msg("%s\n  got %s table=<%s> index=<%s> exists=%d where=%d scan=%d nparams=%u",
			    c[i].stmt, partiql_verb_name(st.verb), st.table, st.index, st.exists, st.has_where,
			    st.full_table_scan, st.nparams);
	}
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void
test_verbs(void **state)
{
	static const struct ok_case cases[] = {
		{ "SELECT * FROM \"Music\"", S, "Music", "", false, false, true, 0 },
		{ "SELECT OrderID, Total FROM \"Orders\" WHERE OrderID = 1", S, "Orders", "", false, true, false, 0 },
		{ "INSERT INTO \"Music\" VALUE {'Artist' : 'Acme Band', 'SongTitle' : 'PartiQL Rocks'}", I, "Music", "",
		    false, false, false, 0 },
		{ "INSERT INTO Music VALUE {'Artist': ?, 'SongTitle': ?}", I, "Music", "", false, false, false, 2 },
		{ "INSERT INTO \"Music\" VALUE ?", I, "Music", "", false, false, false, 1 },
		{ "INSERT INTO \"Music\" VALUE {}", I, "Music", "", false, false, false, 0 },
		/* Every literal type of ql-reference.data-types, nested. */
		{ "INSERT INTO \"Music\" VALUE {'S': 'x', 'N': -1.5e3, 'M': {'a': {'b': [1, [2], {}]}}, "
		  "'SS': <<'a', 'b'>>, 'NS': <<1, -2, .5>>, 'B': TRUE, 'F': false, 'Z': NULL, 'L': [], 'E': 1E+2}",
		    I, "Music", "", false, false, false, 0 },
		{ "UPDATE \"Music\" SET AwardsWon=1 SET AwardDetail={'Grammys':[2020, 2018]} "
		  "WHERE Artist='Acme Band' AND SongTitle='PartiQL Rocks'",
		    U, "Music", "", false, true, false, 0 },
		{ "UPDATE \"Music\" REMOVE AwardDetail.Grammys[2] "
		  "WHERE Artist='Acme Band' AND SongTitle='PartiQL Rocks'",
		    U, "Music", "", false, true, false, 0 },
		{ "UPDATE Music SET a.b[0].c = a.b[0].c + 1, \"x\"['y'] = list_append(\"x\"['y'], [?]) "
		  "WHERE pk = ? RETURNING ALL NEW *",
		    U, "Music", "", false, true, false, 2 },
		{ "UPDATE Music SET s = set_add(s, <<'x'>>) REMOVE old_a, older SET t = set_delete(t, <<1>>) "
		  "WHERE pk = 1 RETURNING MODIFIED OLD *",
		    U, "Music", "", false, true, false, 0 },
		{ "UPDATE Music SET n = n - -1 WHERE pk = 1 RETURNING MODIFIED NEW *",
		    U, "Music", "", false, true, false,
		    0 },
		{ "UPDATE Music SET a = 1", U, "Music", "", false, false, false, 0 },
		{ "DELETE FROM \"Music\" WHERE \"Artist\" = 'Acme Band' AND \"SongTitle\" = 'PartiQL Rocks'",
		    D, "Music",
		    "", false, true, false, 0 },
		{ "DELETE FROM Music WHERE pk = ? RETURNING ALL OLD *", D, "Music", "", false, true, false, 1 },
		{ "DELETE FROM Music", D, "Music", "", false, false, false, 0 },
		/* ExecuteTransaction condition check: a SELECT of the inner table. */
		{ "EXISTS(SELECT * FROM \"Music\" WHERE \"Artist\" = 'Acme Band' AND \"SongTitle\" = 'PartiQL Rocks')",
		    S,
		    "Music", "", true, true, false, 0 },
		{ "exists ( select * from \"Music\".\"ByYear\" where y > ? ) ;", S, "Music", "ByYear", true, true, true,
		    1 },
		{ "EXISTS(SELECT * FROM Music)", S, "Music", "", true, false, true, 0 },
		/* A trailing ';' alone is fine, with blanks and comments after it. */
		{ "SELECT * FROM Music;", S, "Music", "", false, false, true, 0 },
		{ "SELECT * FROM Music ; -- done\n", S, "Music", "", false, false, true, 0 },
		{ "SELECT * FROM Music;/* done */ \n\t", S, "Music", "", false, false, true, 0 },
	};

	check_ok(cases, N(cases));
}

static void
test_names(void **state)
{
	static const struct ok_case cases[] = {
		{ "SELECT * FROM Music", S, "Music", "", false, false, true, 0 },
		{ "SELECT * FROM my_table_1", S, "my_table_1", "", false, false, true, 0 },
		{ "SELECT * FROM \"my-table\"", S, "my-table", "", false, false, true, 0 },
		/* One quoted identifier with dots is a table name; two identifiers are table and index. */
		{ "SELECT * FROM \"a.b\"", S, "a.b", "", false, false, true, 0 },
		{ "SELECT * FROM \"a.b.c\"", S, "a.b.c", "", false, false, true, 0 },
		{ "SELECT * FROM \"Orders\".\"CustomerIndex\"", S, "Orders", "CustomerIndex", false, false, true, 0 },
		{ "SELECT * FROM \"my.table\".\"my.index\"", S, "my.table", "my.index", false, false, true, 0 },
		{ "SELECT * FROM \"t-1\" . \"i-1\"", S, "t-1", "i-1", false, false, true, 0 },
		{ "SELECT * FROM \"t-1\"/* x */./* y */\"i-1\"", S, "t-1", "i-1", false, false, true, 0 },
		/* Keywords as names need quotes; inside quotes they are only names. */
		{ "SELECT \"FROM\", \"select\" FROM \"FROM\" WHERE \"WHERE\" = 1",
		    S, "FROM", "", false, true, false, 0 },
		{ "SELECT \"x\"\"y\", \"a\"\"\" FROM \"Music\"", S, "Music", "", false, false, true, 0 },
		/* Keywords are case-insensitive; names keep their case. */
		{ "select * from music where pk = 1", S, "music", "", false, true, false, 0 },
		{ "SeLeCt * FrOm MuSiC wHeRe pk = 1 AnD x > 2 oRdEr By x DeSc", S, "MuSiC", "", false, true, false, 0 },
		{ "iNsErT iNtO Music vAlUe {'a': 1}", I, "Music", "", false, false, false, 0 },
		{ "uPdAtE Music sEt a = 1 rEmOvE b wHeRe pk = 1 rEtUrNiNg aLl oLd *",
		    U, "Music", "", false, true, false,
		    0 },
		{ "DeLeTe FrOm Music", D, "Music", "", false, false, false, 0 },
		/* 3 and 255 characters. */
		{ "SELECT * FROM abc", S, "abc", "", false, false, true, 0 },
		{ "SELECT * FROM \"a_.\".\"-_.\"", S, "a_.", "-_.", false, false, true, 0 },
	};

	check_ok(cases, N(cases));
}

static void
test_paths_and_literals(void **state)
{
	static const struct ok_case cases[] = {
		{ "SELECT a, b.c[0], \"d\"['e'], f[1].g.\"h\"[2][3] FROM Music",
		    S, "Music", "", false, false, true, 0 },
		{ "SELECT * FROM Music WHERE a.b[0].c = 1 AND \"x\"['y'][?] = ?",
		    S, "Music", "", false, true, true, 2 },
		/* Literals that look like other things stay literals. */
		{ "SELECT * FROM \"Music\" WHERE a = 'x FROM \"Secret\" WHERE' AND pk = 1", S, "Music", "", false, true,
		    false, 0 },
		{ "SELECT * FROM \"Music\" WHERE a = 'it''s; DELETE FROM Secret'",
		    S, "Music", "", false, true, false, 0 },
		{ "SELECT * FROM \"Music\" WHERE a = '?' AND b = '''?'''", S, "Music", "", false, true, false, 0 },
		{ "SELECT * FROM \"Music\" WHERE a = '--' AND pk = '/*'", S, "Music", "", false, true, false, 0 },
		{ "SELECT * FROM \"Music\" WHERE a = ';' AND b = \";\"", S, "Music", "", false, true, false, 0 },
		{ "SELECT * FROM \"Music\" WHERE a = 'line\nbreak' AND pk = ''",
		    S, "Music", "", false, true, false, 0 },
		{ "SELECT * FROM \"Music\" WHERE \"a'b\" = 'c\"d'", S, "Music", "", false, true, false, 0 },
		{ "SELECT * FROM Music WHERE pk = 1.5 AND n = .5 AND m = 1e10 AND o = 2.E-3",
		    S, "Music", "", false, true,
		    false, 0 },
		{ "SELECT * FROM Music WHERE m = {'a': [1, <<'x'>>]} AND l = [] AND n = NULL AND o IS MISSING "
		  "AND p IS NOT NULL AND q IS NOT MISSING AND r IS NULL",
		    S, "Music", "", false, true, true, 0 },
		/* Functions DynamoDB documents, any case. */
		{ "SELECT * FROM Music WHERE begins_with(sk, 'a') AND contains(t, ?) AND attribute_type(x, 'S') "
		  "AND SIZE(\"Image\") > 300",
		    S, "Music", "", false, true, true, 1 },
		{ "SELECT size(a) + 1, b - 2 FROM Music", S, "Music", "", false, false, true, 0 },
		/* UTF-8 inside quoted attribute names and strings. */
		{ "SELECT \"caf\xc3\xa9\" FROM Music WHERE pk = '\xe2\x82\xac'",
		    S, "Music", "", false, true, false, 0 },
	};

	check_ok(cases, N(cases));
}

static void
test_comments(void **state)
{
	static const struct ok_case cases[] = {
		{ "/* lead */ SELECT /* a */ * /**/ FROM -- c\n \"Music\" -- trailing", S, "Music", "", false, false,
		    true, 0 },
		{ "--first\nSELECT * FROM Music WHERE pk = 1 -- no newline at end", S, "Music", "", false, true, false,
		    0 },
		{ "SELECT * FROM Music WHERE pk = '--not a comment' /* c */", S, "Music", "", false, true, false, 0 },
		{ "SELECT * FROM Music WHERE a = '/* not */' AND pk = 1", S, "Music", "", false, true, false, 0 },
		{ "SELECT * FROM Music WHERE pk = 1 -- FROM Secret\r\n", S, "Music", "", false, true, false, 0 },
		{ "SELECT * FROM /* \"Secret\" */ Music", S, "Music", "", false, false, true, 0 },
		{ "SELECT * FROM Music WHERE pk = 1 /* ? ' \" */ AND x = 2 -- ?", S, "Music", "", false, true, false,
		    0 },
		{ "SELECT * FROM Music WHERE pk=1/**/AND/**/x=2", S, "Music", "", false, true, false, 0 },
		{ "SELECT * FROM Music WHERE pk = 1-1", S, "Music", "", false, true, true, 0 },
		{ "SELECT * FROM Music WHERE pk = 1--1", S, "Music", "", false, true, false, 0 },
		{ "SELECT * FROM Music /* *** / ** */", S, "Music", "", false, false, true, 0 },
		{ "\r\n\tSELECT\t*\r\nFROM\tMusic\r\n", S, "Music", "", false, false, true, 0 },
	};

	check_ok(cases, N(cases));
}

/* dynamodb:FullTableScan as approximated (see partiql.h). */
static void
test_full_table_scan(void **state)
{
	static const struct {
		const char *where;
		bool scan;
		unsigned nparams;
	} cases[] = {
		{ "", true, 0 },
		{ "WHERE pk = ?", false, 1 },
		{ "WHERE pk = 'x'", false, 0 },
		{ "WHERE pk = 1", false, 0 },
		{ "WHERE pk = -5", false, 0 },
		{ "WHERE \"pk\" = 'x'", false, 0 },
		{ "WHERE pk IN [1,2]", false, 0 },
		{ "WHERE pk IN (?, ?)", false, 2 },
		{ "WHERE pk IN ['a']", false, 0 },
		{ "WHERE a = 1 OR b = 2", true, 0 },
		{ "WHERE a > 1", true, 0 },
		{ "WHERE NOT a = 1", true, 0 },
		{ "WHERE NOT NOT a = 1", true, 0 },
		{ "WHERE pk = 1 AND a > 2", false, 0 },
		{ "WHERE a > 2 AND pk = 1", false, 0 },
		{ "WHERE a > 2 AND b < 3 AND pk = ?", false, 1 },
		{ "WHERE (pk = 1 AND a > 2)", false, 0 },
		{ "WHERE ((pk = 1)) AND a > 2", false, 0 },
		{ "WHERE a > 2 AND NOT pk = 1", true, 0 },
		/* Conservative: DynamoDB reads this as two key lookups, we as a scan. */
		{ "WHERE pk = 1 OR pk = 2", true, 0 },
		{ "WHERE (pk = 1) OR (pk = 2)", true, 0 },
		{ "WHERE pk = 1 AND a = 2 OR b = 3", true, 0 },
		{ "WHERE b = 3 OR pk = 1 AND a = 2", true, 0 },
		{ "WHERE (b = 3 OR c = 4) AND pk = 1", false, 0 },
		{ "WHERE pk NOT IN [1]", true, 0 },
		{ "WHERE pk IN []", true, 0 },
		{ "WHERE pk IN ?", true, 1 },
		{ "WHERE pk IN [1, {'a': 1}]", true, 0 },
		{ "WHERE pk.x = 1", true, 0 },
		{ "WHERE pk[0] = 1", true, 0 },
		{ "WHERE pk = a", true, 0 },
		{ "WHERE pk = 1 + 1", true, 0 },
		{ "WHERE pk = TRUE", true, 0 },
		{ "WHERE pk = NULL", true, 0 },
		{ "WHERE pk = [1]", true, 0 },
		{ "WHERE pk = {'a': 1}", true, 0 },
		{ "WHERE pk = (1)", true, 0 },
		{ "WHERE 'x' = pk", true, 0 },
		{ "WHERE pk <> 1", true, 0 },
		{ "WHERE pk != 1", true, 0 },
		{ "WHERE pk >= 1", true, 0 },
		{ "WHERE pk BETWEEN 1 AND 2", true, 0 },
		{ "WHERE x BETWEEN 1 AND 2 AND pk = 3", false, 0 },
		{ "WHERE x NOT BETWEEN 1 AND 2 AND pk = 3", false, 0 },
		{ "WHERE pk IS NOT NULL", true, 0 },
		{ "WHERE begins_with(pk, 'a')", true, 0 },
		{ "WHERE size(pk) = 1", true, 0 },
		{ "WHERE pk = 1 ORDER BY sk DESC", false, 0 },
		{ "ORDER BY sk", true, 0 },
	};
	char stmt[256];
	size_t i;

	for (i = 0; i < N(cases); i++) {
		struct ok_case c = { stmt, S, "Music", "", false, cases[i].where[0] == 'W', cases[i].scan,
			cases[i].nparams };

		snprintf(stmt, sizeof(stmt), "SELECT * FROM Music %s", cases[i].where);
		check_ok(&c, 1);
		/* The same condition does not make UPDATE or DELETE a scan. */
		if (c.where) {
			struct ok_case d = c;
			char del[256];

			snprintf(del, sizeof(del), "DELETE FROM Music %s", cases[i].where);
			d.stmt = del;
			d.verb = D;
			d.scan = false;
			if (strstr(del, "ORDER") == NULL)
				check_ok(&d, 1);
		}
	}
}

struct bad_case {
	const char *stmt;
	enum partiql_status status;
	const char *why; /* exact message */
};

static void
check_bad(const struct bad_case *c, size_t n)
{
	struct partiql_statement st;
	char why[PARTIQL_WHY_MAX];
	size_t i, bad = 0;

	for (i = 0; i < n; i++) {
		enum partiql_status rc;

		memset(&st, 0x55, sizeof(st));
		rc = partiql_read(c[i].stmt, strlen(c[i].stmt), &st, why, sizeof(why));
		if (rc != c[i].status || strcmp(why, c[i].why) != 0) {
			print_error("%s\n  got %d \"%s\"\n want %d \"%s\"\n", c[i].stmt, rc, why, c[i].status,
			    c[i].why);
			bad++;
		}
		/* Nothing half-read is left for a caller to trust. */
		assert_string_equal(st.table, "");
		assert_string_equal(st.index, "");
	}
	assert_int_equal(bad, 0);
}

#define SYN PARTIQL_SYNTAX
#define UNS PARTIQL_UNSUPPORTED

static void
test_refusals(void **state)
{
	static const struct bad_case cases[] = {
		/* More than one statement. */
		{ "SELECT * FROM a1b; SELECT * FROM b2c", SYN, "offset 19: more than one statement" },
		{ "SELECT * FROM Music;;", SYN, "offset 20: more than one statement" },
		{ "SELECT * FROM Music; -- x\nDELETE FROM Music", SYN, "offset 26: more than one statement" },
		/* Unterminated things. */
		{ "SELECT * FROM \"Music\" WHERE a = 'x", SYN, "offset 32: unterminated string literal" },
		{ "SELECT * FROM \"Music\" WHERE a = 'x''", SYN, "offset 32: unterminated string literal" },
		{ "SELECT * FROM \"Music /* x", SYN, "offset 14: unterminated quoted identifier" },
		{ "SELECT * FROM \"Music\"\"", SYN, "offset 14: unterminated quoted identifier" },
		{ "SELECT * FROM Music /* x", SYN, "offset 20: unterminated /* comment" },
		{ "SELECT * FROM Music /*/", SYN, "offset 20: unterminated /* comment" },
		{ "SELECT * FROM Music /* /* */ x */",
		    SYN, "offset 23: /* inside a /* comment (comments do not nest)" },
		{ "SELECT * FROM Music -- x\rWHERE a = 1", SYN,
		    "offset 24: carriage return without line feed ends a -- comment" },
		/* Table and index names. */
		{ "SELECT * FROM \"ab\"", SYN, "offset 14: invalid table name (3-255 of A-Z a-z 0-9 _ . -)" },
		{ "SELECT * FROM ab", SYN, "offset 14: invalid table name (3-255 of A-Z a-z 0-9 _ . -)" },
		{ "SELECT * FROM \"a b c\"", SYN, "offset 14: invalid table name (3-255 of A-Z a-z 0-9 _ . -)" },
		{ "SELECT * FROM \"Mu\"\"sic\"", SYN, "offset 14: invalid table name (3-255 of A-Z a-z 0-9 _ . -)" },
		{ "SELECT * FROM \"Mus/ic\"", SYN, "offset 14: invalid table name (3-255 of A-Z a-z 0-9 _ . -)" },
		{ "SELECT * FROM \"t\".\"abc\"", SYN, "offset 14: invalid table name (3-255 of A-Z a-z 0-9 _ . -)" },
		{ "SELECT * FROM \"Music\".\"ix\"", SYN, "offset 22: invalid index name (3-255 of A-Z a-z 0-9 _ . -)" },
		{ "SELECT * FROM \"Music\".\"\"", SYN, "offset 22: empty quoted identifier" },
		{ "SELECT * FROM \"\"", SYN, "offset 14: empty quoted identifier" },
		{ "SELECT * FROM \"t12\".\"i12\".\"j12\"", SYN,
		    "offset 25: a table is named as table or table.index, nothing longer" },
		{ "SELECT * FROM \"Music\"['i12']", SYN,
		    "offset 21: a table is named as table or table.index, nothing longer" },
		{ "SELECT * FROM \"Music\".", SYN, "offset 22: expected an index name, got end of statement" },
		{ "SELECT * FROM \"Music\".'ix1'", SYN, "offset 22: expected an index name, got string literal" },
		/* An index needs both names quoted (ql-reference.select). */
		{ "SELECT * FROM Orders.CustomerIndex", UNS,
		    "offset 21: table and index must both be double-quoted: \"table\".\"index\"" },
		{ "SELECT * FROM \"Orders\".ByDate", UNS,
		    "offset 23: table and index must both be double-quoted: \"table\".\"index\"" },
		{ "SELECT * FROM Orders.\"ByDate\"", UNS,
		    "offset 21: table and index must both be double-quoted: \"table\".\"index\"" },
		{ "SELECT * FROM 'Music'", SYN, "offset 14: expected a table name, got string literal" },
		{ "SELECT * FROM select", SYN, "offset 14: expected a table name, got keyword SELECT" },
		{ "SELECT * FROM ?", SYN, "offset 14: expected a table name, got '?'" },
		{ "SELECT * FROM (SELECT * FROM Music)", SYN, "offset 14: expected a table name, got '('" },
		{ "UPDATE \"Music\".\"ix1\" SET a = 1 WHERE pk = 1", SYN, "offset 14: only SELECT may name an index" },
		{ "DELETE FROM Music.ix1 WHERE pk = 1", SYN, "offset 17: only SELECT may name an index" },
		{ "INSERT INTO Music.ix1 VALUE {}", SYN, "offset 17: only SELECT may name an index" },
		/* Structure. */
		{ "", SYN, "offset 0: empty statement" },
		{ "  -- only a comment", SYN, "offset 0: empty statement" },
		{ ";", SYN, "offset 0: expected SELECT, INSERT, UPDATE, DELETE or EXISTS, got ';'" },
		{ "garbage", SYN, "offset 0: expected SELECT, INSERT, UPDATE, DELETE or EXISTS, got identifier" },
		{ "FROM Music", SYN, "offset 0: expected SELECT, INSERT, UPDATE, DELETE or EXISTS, got keyword FROM" },
		{ "SELECT * Music", SYN, "offset 9: expected FROM, got identifier" },
		{ "SELECT *", SYN, "offset 8: expected FROM, got end of statement" },
		{ "SELECT * FROM", SYN, "offset 13: expected a table name, got end of statement" },
		{ "SELECT FROM Music", SYN, "offset 7: expected an expression, got keyword FROM" },
		{ "SELECT *, a FROM Music", SYN, "offset 8: expected FROM, got ','" },
		{ "SELECT * FROM Music, Other", SYN, "offset 19: expected end of statement, got ','" },
		{ "SELECT * FROM Music x", SYN, "offset 20: expected end of statement, got identifier" },
		{ "SELECT * FROM Music AS m", UNS,
		    "offset 20: expected end of statement, got a reserved word DynamoDB does not support" },
		{ "SELECT * FROM Music JOIN Other", UNS,
		    "offset 20: expected end of statement, got a reserved word DynamoDB does not support" },
		{ "SELECT DISTINCT a FROM Music", UNS,
		    "offset 7: expected an expression, got a reserved word DynamoDB does not support" },
		{ "SELECT * FROM Music WHERE", SYN, "offset 25: expected an expression, got end of statement" },
		{ "SELECT * FROM Music WHERE a = 1 AND",
		    SYN, "offset 35: expected an expression, got end of statement" },
		{ "SELECT * FROM Music WHERE a == 1", SYN, "offset 29: expected an expression, got '='" },
		{ "SELECT * FROM Music WHERE a = 1 = 2", SYN, "offset 32: expected end of statement, got '='" },
		{ "SELECT * FROM Music WHERE a = 'x' 'y'",
		    SYN, "offset 34: expected end of statement, got string literal" },
		{ "SELECT * FROM Music WHERE (a = 1", SYN, "offset 32: expected ')', got end of statement" },
		{ "SELECT * FROM Music WHERE a = 1)", SYN, "offset 31: expected end of statement, got ')'" },
		{ "SELECT * FROM Music WHERE a BETWEEN 1 OR 2", SYN, "offset 38: expected AND, got keyword OR" },
		{ "SELECT * FROM Music WHERE a NOT = 1", SYN, "offset 32: expected BETWEEN or IN after NOT, got '='" },
		{ "SELECT * FROM Music WHERE a IN 1",
		    SYN, "offset 31: expected a list [...] or (...) after IN, got number" },
		{ "SELECT * FROM Music WHERE a IN (SELECT * FROM Secret)", SYN,
		    "offset 32: expected a literal value, got keyword SELECT" },
		{ "SELECT * FROM Music WHERE a = (SELECT * FROM Secret)",
		    UNS, "offset 31: subqueries are not supported" },
		{ "SELECT * FROM Music WHERE EXISTS(SELECT * FROM Secret)",
		    UNS, "offset 26: subqueries are not supported" },
		{ "SELECT * FROM Music WHERE a IS STRING", UNS, "offset 31: IS [NOT] supports NULL and MISSING only" },
		{ "SELECT * FROM Music WHERE a LIKE 'x%'", UNS,
		    "offset 28: expected end of statement, got a reserved word DynamoDB does not support" },
		{ "SELECT * FROM Music WHERE a = 1 ORDER pk", SYN, "offset 38: expected BY, got identifier" },
		{ "SELECT * FROM Music ORDER BY 1", SYN, "offset 29: expected an attribute name, got number" },
		{ "SELECT * FROM Music WHERE a. = 1", SYN,
		    "offset 29: expected an attribute name after '.', got '='" },
		{ "SELECT * FROM Music WHERE a[b] = 1", SYN,
		    "offset 28: expected a number, string or '?' inside [...], got identifier" },
		{ "SELECT * FROM Music WHERE a[1 = 1", SYN, "offset 30: expected ']', got '='" },
		/* Literals. */
		{ "SELECT * FROM Music WHERE a = `1`",
		    UNS, "offset 30: Ion literals (`...`) are not supported by DynamoDB" },
		{ "SELECT * FROM Music WHERE a = 1abc", SYN, "offset 30: malformed number" },
		{ "SELECT * FROM Music WHERE a = 1.2.3", SYN, "offset 30: malformed number" },
		{ "SELECT * FROM Music WHERE a = 1e", SYN, "offset 30: malformed number" },
		{ "SELECT * FROM Music WHERE a = {1: 2}", SYN,
		    "offset 31: expected a string literal as attribute name in {...}, got number" },
		{ "SELECT * FROM Music WHERE a = {'k' 2}", SYN, "offset 35: expected ':', got number" },
		{ "SELECT * FROM Music WHERE a = <<a>>", SYN, "offset 32: expected a literal value, got identifier" },
		{ "SELECT * FROM Music WHERE a = <<[1]>>", SYN,
		    "offset 30: a set <<...>> holds strings, numbers or '?' only" },
		{ "SELECT * FROM Music WHERE a = < <1> >", SYN, "offset 30: expected an expression, got '<'" },
		{ "SELECT * FROM Music WHERE a = 1 * 2", SYN, "offset 32: expected end of statement, got '*'" },
		{ "SELECT * FROM Music WHERE a = 1 / 2", SYN, "offset 32: unexpected character '/'" },
		{ "SELECT * FROM Music WHERE a = 1 || 'x'", SYN, "offset 32: unexpected character '|'" },
		{ "SELECT * FROM Music WHERE $a = 1", SYN, "offset 26: unexpected character '$'" },
		{ "SELECT * FROM Music WHERE @a = 1", SYN, "offset 26: unexpected character '@'" },
		{ "SELECT * FROM Music WHERE a ! 1", SYN, "offset 28: unexpected character '!'" },
		{ "SELECT * FROM Music\v", SYN, "offset 19: unexpected byte 0x0b" },
		{ "SELECT * FROM Music\f", SYN, "offset 19: unexpected byte 0x0c" },
		{ "SELECT * FROM Music WHERE a = \xc3\xa9", SYN, "offset 30: unexpected byte 0xc3" },
		{ "SELECT * FROM \"Mus\xc3\xa9\"", SYN, "offset 14: invalid table name (3-255 of A-Z a-z 0-9 _ . -)" },
		/* Functions. */
		{ "SELECT * FROM Music WHERE foo(a) = 1", UNS, "offset 26: function not supported by DynamoDB" },
		{ "SELECT * FROM Music WHERE missing(a)", SYN, "offset 33: expected end of statement, got '('" },
		/* INSERT, UPDATE, DELETE shapes. */
		{ "INSERT INTO Music VALUES {'a': 1}", UNS,
		    "offset 18: expected VALUE, got a reserved word DynamoDB does not support" },
		{ "INSERT Music VALUE {'a': 1}", SYN, "offset 7: expected INTO, got identifier" },
		{ "INSERT INTO Music VALUE {'a': 1,}", SYN,
		    "offset 32: expected a string literal as attribute name in {...}, got '}'" },
		{ "INSERT INTO Music VALUE {'a': 1} WHERE a = 1", SYN,
		    "offset 33: expected end of statement, got keyword WHERE" },
		{ "INSERT INTO Music VALUE {'a': b}", SYN, "offset 30: expected a literal value, got identifier" },
		{ "INSERT INTO Music VALUE [1]", SYN, "offset 24: expected an item {...} after VALUE, got '['" },
		{ "UPDATE Music WHERE pk = 1", SYN, "offset 13: expected SET or REMOVE, got keyword WHERE" },
		{ "UPDATE Music SET a WHERE pk = 1", SYN, "offset 19: expected '=', got keyword WHERE" },
		{ "UPDATE Music SET a = 1, SET b = 2", SYN, "offset 24: expected an attribute name, got keyword SET" },
		{ "UPDATE Music SET a = 1 WHERE pk = 1 RETURNING *", SYN,
		    "offset 46: expected ALL or MODIFIED, got '*'" },
		{ "UPDATE Music SET a = 1 WHERE pk = 1 RETURNING ALL OLD", SYN,
		    "offset 53: expected '*', got end of statement" },
		{ "DELETE FROM Music WHERE pk = 1 RETURNING ALL NEW *",
		    SYN, "offset 45: expected OLD, got keyword NEW" },
		{ "DELETE FROM Music WHERE pk = 1 RETURNING MODIFIED OLD *", SYN,
		    "offset 41: expected ALL, got keyword MODIFIED" },
		{ "DELETE Music WHERE pk = 1", SYN, "offset 7: expected FROM, got identifier" },
		/* EXISTS. */
		{ "EXISTS(SELECT * FROM Music", SYN, "offset 26: expected ')', got end of statement" },
		{ "EXISTS SELECT * FROM Music", SYN, "offset 7: expected '(', got keyword SELECT" },
		{ "EXISTS(UPDATE Music SET a = 1 WHERE pk = 1)", SYN,
		    "offset 7: expected SELECT inside EXISTS(...), got keyword UPDATE" },
		{ "EXISTS(SELECT * FROM Music) AND EXISTS(SELECT * FROM Other)", SYN,
		    "offset 28: expected end of statement, got keyword AND" },
		{ "NOT EXISTS(SELECT * FROM Music)", UNS,
		    "offset 0: only EXISTS(SELECT ...) is supported, not NOT EXISTS" },
		{ "(SELECT * FROM Music)",
		    SYN, "offset 0: expected SELECT, INSERT, UPDATE, DELETE or EXISTS, got '('" },
	};

	check_bad(cases, N(cases));
}

static void
test_limits(void **state)
{
	static char stmt[PARTIQL_MAX_BYTES + 64];
	struct partiql_statement st;
	char why[PARTIQL_WHY_MAX], name[300];
	const char nul[] = "SELECT * FROM Music\0 WHERE a = 1";
	size_t n, i;

	/* Names of 255 characters are fine, 256 are not. */
	memset(name, 'a', sizeof(name));
	n = (size_t)snprintf(stmt, sizeof(stmt), "SELECT * FROM \"%.255s\".\"%.255s\"", name, name);
	assert_int_equal(partiql_read(stmt, n, &st, why, sizeof(why)), PARTIQL_OK);
	assert_int_equal(strlen(st.table), 255);
	assert_int_equal(strlen(st.index), 255);
	n = (size_t)snprintf(stmt, sizeof(stmt), "SELECT * FROM \"%.256s\"", name);
	assert_int_equal(partiql_read(stmt, n, &st, why, sizeof(why)), PARTIQL_SYNTAX);
	assert_string_equal(why, "offset 14: table name longer than 255");
	n = (size_t)snprintf(stmt, sizeof(stmt), "SELECT * FROM \"Music\".\"%.256s\"", name);
	assert_int_equal(partiql_read(stmt, n, &st, why, sizeof(why)), PARTIQL_SYNTAX);
	assert_string_equal(why, "offset 22: index name longer than 255");

	/* 8192 characters are fine, 8193 are not; multi-byte characters count once. */
	n = (size_t)snprintf(stmt, sizeof(stmt), "SELECT * FROM Music WHERE pk = '");
	memset(stmt + n, 'x', PARTIQL_MAX_CHARS - n - 1);
	stmt[PARTIQL_MAX_CHARS - 1] = '\'';
	assert_int_equal(partiql_read(stmt, PARTIQL_MAX_CHARS, &st, why, sizeof(why)), PARTIQL_OK);
	stmt[PARTIQL_MAX_CHARS - 1] = 'x';
	stmt[PARTIQL_MAX_CHARS] = '\'';
	assert_int_equal(partiql_read(stmt, PARTIQL_MAX_CHARS + 1, &st, why, sizeof(why)), PARTIQL_UNSUPPORTED);
	assert_string_equal(why, "offset 0: statement longer than 8192 characters");
	n = (size_t)snprintf(stmt, sizeof(stmt), "SELECT * FROM Music WHERE pk = '");
	for (i = 0; i < PARTIQL_MAX_CHARS - n - 1; i++)
		memcpy(stmt + n + 2 * i, "\xc3\xa9", 2);
	stmt[n + 2 * i] = '\'';
	assert_int_equal(partiql_read(stmt, n + 2 * i + 1, &st, why, sizeof(why)), PARTIQL_OK);
	assert_int_equal(partiql_read(stmt, PARTIQL_MAX_BYTES + 1, &st, why, sizeof(why)), PARTIQL_UNSUPPORTED);

	/* Nesting: 64 levels of parentheses read, 65 do not. */
	for (i = 64; i <= 65; i++) {
		n = (size_t)snprintf(stmt, sizeof(stmt), "SELECT * FROM Music WHERE ");
		memset(stmt + n, '(', i);
		n += i;
		n += (size_t)snprintf(stmt + n, sizeof(stmt) - n, "pk = 1");
		memset(stmt + n, ')', i);
		n += i;
		if (i == 64) {
			assert_int_equal(partiql_read(stmt, n, &st, why, sizeof(why)), PARTIQL_OK);
			assert_false(st.full_table_scan);
		} else {
			assert_int_equal(partiql_read(stmt, n, &st, why, sizeof(why)), PARTIQL_UNSUPPORTED);
			assert_string_equal(why, "offset 90: nesting deeper than 64");
		}
	}
	/* Deep values, NOTs and minus signs are bounded the same way. */
	n = (size_t)snprintf(stmt, sizeof(stmt), "INSERT INTO Music VALUE ");
	for (i = 0; i < 1000; i++)
		n += (size_t)snprintf(stmt + n, sizeof(stmt) - n, "{'a':[");
	assert_int_equal(partiql_read(stmt, n, &st, why, sizeof(why)), PARTIQL_UNSUPPORTED);
	n = (size_t)snprintf(stmt, sizeof(stmt), "SELECT * FROM Music WHERE ");
	for (i = 0; i < 1000; i++)
		n += (size_t)snprintf(stmt + n, sizeof(stmt) - n, "NOT ");
	n += (size_t)snprintf(stmt + n, sizeof(stmt) - n, "a = 1");
	assert_int_equal(partiql_read(stmt, n, &st, why, sizeof(why)), PARTIQL_UNSUPPORTED);
	n = (size_t)snprintf(stmt, sizeof(stmt), "SELECT * FROM Music WHERE a = ");
	for (i = 0; i < 1000; i++)
		n += (size_t)snprintf(stmt + n, sizeof(stmt) - n, "- ");
	n += (size_t)snprintf(stmt + n, sizeof(stmt) - n, "1");
	assert_int_equal(partiql_read(stmt, n, &st, why, sizeof(why)), PARTIQL_UNSUPPORTED);

	/* A NUL byte is refused, not taken for the end. */
	assert_int_equal(partiql_read(nul, sizeof(nul) - 1, &st, why, sizeof(why)), PARTIQL_SYNTAX);
	assert_string_equal(why, "offset 19: unexpected byte 0x00");
	/* The length is respected: no read past it. */
	assert_int_equal(partiql_read("SELECT * FROM Music WHERE", 19, &st, why, sizeof(why)), PARTIQL_OK);
	assert_false(st.has_where);

	/* why may be NULL or short; it is always terminated. */
	assert_int_equal(partiql_read("SELECT", 6, &st, NULL, 0), PARTIQL_SYNTAX);
	assert_int_equal(partiql_read("SELECT", 6, &st, why, 10), PARTIQL_SYNTAX);
	assert_string_equal(why, "offset 6:");
	assert_int_equal(partiql_read(NULL, 0, &st, why, sizeof(why)), PARTIQL_SYNTAX);
	assert_string_equal(why, "offset 0: empty statement");
}

static void
test_verb_names(void **state)
{
	assert_string_equal(partiql_verb_name(PARTIQL_SELECT), "SELECT");
	assert_string_equal(partiql_verb_name(PARTIQL_INSERT), "INSERT");
	assert_string_equal(partiql_verb_name(PARTIQL_UPDATE), "UPDATE");
	assert_string_equal(partiql_verb_name(PARTIQL_DELETE), "DELETE");
}

static void
test_redact(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "SELECT * FROM \"Music\" WHERE Artist = 'Acme Band' AND n = 42",
		    "SELECT * FROM \"Music\" WHERE Artist = ? AND n = ?" },
		{ "INSERT INTO \"Music\" VALUE {'Artist': 'Acme', 'n': [1, 2]}", "INSERT INTO \"Music\" VALUE {?}" },
		{ "UPDATE \"Music\" SET a.b[0] = 'x', s = set_add(s, <<'y'>>) WHERE pk = ? RETURNING ALL NEW *",
		    "UPDATE \"Music\" SET a.b[?] = ?, s = set_add(s, <<?>>) WHERE pk = ? RETURNING ALL NEW *" },
		{ "SELECT * FROM t WHERE pk IN [1, 2] AND x IN (3, 'four')",
		    "SELECT * FROM t WHERE pk IN [?] AND x IN (?, ?)" },
		{ "SELECT * FROM t WHERE a IS NOT NULL AND b = TRUE AND c = null AND d IS missing AND e = False",
		    "SELECT * FROM t WHERE a IS NOT NULL AND b = ? AND c = ? AND d IS missing AND e = ?" },
		{ "SELECT /* secret */ * FROM t -- 'x'\nWHERE a = 'it''s'", "SELECT   * FROM t  \nWHERE a = ?" },
		{ "SELECT \"it's\", \"a\"\"b\" FROM t WHERE \"x\"['y'] = -1.5e+3",
		    "SELECT \"it's\", \"a\"\"b\" FROM t WHERE \"x\"[?] = -?" },
		{ "SELECT * FROM t WHERE a = {} AND b = [ ] AND c = <<>> AND d = {'k': {}}",
		    "SELECT * FROM t WHERE a = {} AND b = [ ] AND c = <<>> AND d = {?}" },
		{ "SELECT * FROM t WHERE a = {'}': ']', 'x': \"}\"} AND b = 1",
		    "SELECT * FROM t WHERE a = {?} AND b = ?" },
		{ "SELECT * FROM t WHERE a = `{a: 1}` AND b = .5 AND c = 1abc",
		    "SELECT * FROM t WHERE a = ? AND b = ? AND c = ?" },
		{ "SELECT * FROM t WHERE size(a)[0] = 1 AND b[1][2] = 3",
		    "SELECT * FROM t WHERE size(a)[?] = ? AND b[?][?] = ?" },
		{ "EXISTS(SELECT * FROM \"Music\" WHERE pk = 'x');", "EXISTS(SELECT * FROM \"Music\" WHERE pk = ?);" },
		/* Unterminated: '?' and stop. */
		{ "SELECT * FROM t WHERE a = 'secret", "SELECT * FROM t WHERE a = ?" },
		{ "SELECT * FROM t WHERE a = {'k': 'secret", "SELECT * FROM t WHERE a = {?" },
		{ "SELECT * FROM t WHERE a = {", "SELECT * FROM t WHERE a = {" },
		{ "SELECT * FROM \"secret", "SELECT * FROM ?" },
		{ "SELECT * FROM t /* secret", "SELECT * FROM t ?" },
		{ "SELECT * FROM t WHERE a = `secret", "SELECT * FROM t WHERE a = ?" },
		/* Bytes outside the language become '?'. */
		{ "SELECT \xc3\xa9 $x / \x01", "SELECT ?? ?x ? ?" },
		{ "SELECT \"a\x01\x7f\tb\xc3\xa9\" FROM t", "SELECT \"a???b\xc3\xa9\" FROM t" },
		{ "", "" },
	};
	char out[512];
	size_t i, n;

	for (i = 0; i < N(cases); i++) {
		n = partiql_redact(cases[i].in, strlen(cases[i].in), out, sizeof(out));
		if (strcmp(out, cases[i].out) != 0)
			fail_msg("%s\n  got  %s\n  want %s", cases[i].in, out, cases[i].out);
		assert_int_equal(n, strlen(cases[i].out));
		assert_true(n <= strlen(cases[i].in));
	}
}

static void
test_redact_buffer(void **state)
{
	const char *in = "SELECT * FROM t WHERE a = 'secret'";
	const char *want = "SELECT * FROM t WHERE a = ?";
	const char nul[] = "SELECT 'a\0b' \0 \"x\0\"";
	char out[64];
	size_t n;

	/* snprintf-like: the full length comes back, the copy is a terminated prefix. */
	memset(out, 'Z', sizeof(out));
	n = partiql_redact(in, strlen(in), out, 8);
	assert_int_equal(n, strlen(want));
	assert_string_equal(out, "SELECT ");
	assert_int_equal(partiql_redact(in, strlen(in), NULL, 0), strlen(want));
	n = partiql_redact(in, strlen(in), out, 1);
	assert_string_equal(out, "");
	n = partiql_redact(in, strlen(in), out, strlen(want) + 1);
	assert_string_equal(out, want);
	/* Length-delimited: NUL bytes inside are input like any other. */
	n = partiql_redact(nul, sizeof(nul) - 1, out, sizeof(out));
	assert_int_equal(n, strlen("SELECT ? ? \"x?\""));
	assert_string_equal(out, "SELECT ? ? \"x?\"");
	assert_int_equal(partiql_redact(NULL, 5, out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verbs),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_paths_and_literals),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_full_table_scan),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_verb_names),
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_redact_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
