#!/usr/bin/perl
# mkmmdb.pl: writes the small MaxMind test databases the geoip tests read.
#
#   perl tests/data/mkmmdb.pl OUTDIR [COUNTRY [ASN]]
#
# Writes OUTDIR/country.mmdb (database_type GeoLite2-Country) and
# OUTDIR/asn.mmdb (GeoLite2-ASN), with GeoLite2's record shapes:
#
#   network          country                       ASN
#   127.0.0.0/8      COUNTRY (default "DE")        ASN (default 64512), org "Test"
#   ::1/128          COUNTRY (default "DE")        ASN (default 64512), org "Test"
#   10.0.0.0/8       "US"                          64513, org "Test"
#   2001:db8::/32    "JP"                          64515, org "Test v6"
#   192.0.2.0/24     registered_country "FR" only  (none)
#
# COUNTRY/ASN let the reload test write a second version that differs.
# Needs Debian's libmaxmind-db-writer-perl; exits 2 with a message without it.
use strict;
use warnings;

my ($out, $country, $asn) = @ARGV;
die "usage: $0 OUTDIR [COUNTRY [ASN]]\n" unless defined $out && -d $out;
$country //= 'DE';
$asn //= 64512;

unless (eval { require MaxMind::DB::Writer::Tree; 1 }) {
	print STDERR "mkmmdb.pl: MaxMind::DB::Writer::Tree missing (apt-get install libmaxmind-db-writer-perl)\n";
	exit 2;
}

# The writer must be told the type of every map key it will see.
my %types = (
	country                        => 'map',
	registered_country             => 'map',
	iso_code                       => 'utf8_string',
	autonomous_system_number       => 'uint32',
	autonomous_system_organization => 'utf8_string',
);

sub tree {
	my ($type) = @_;
	return MaxMind::DB::Writer::Tree->new(
		ip_version            => 6,
		record_size           => 24,
		database_type         => $type,
		languages             => ['en'],
		description           => { en => "ddbguard test $type" },
		# Keep 127/8, 10/8, ::1 and the documentation ranges: they are all "reserved".
		remove_reserved_networks => 0,
		# ::ffff:a.b.c.d finds the IPv4 record, as in MaxMind's own databases.
		alias_ipv6_to_ipv4    => 1,
		map_key_type_callback => sub { $types{ $_[0] } // die "mkmmdb.pl: no type for key $_[0]\n" },
	);
}

sub write_tree {
	my ($t, $path) = @_;
	my $tmp = "$path.tmp.$$";
	open my $fh, '>:raw', $tmp or die "mkmmdb.pl: $tmp: $!\n";
	$t->write_tree($fh);
	close $fh or die "mkmmdb.pl: $tmp: $!\n";
	rename $tmp, $path or die "mkmmdb.pl: $path: $!\n";
}

my $c = tree('GeoLite2-Country');
$c->insert_network('127.0.0.0/8',   { country => { iso_code => $country } });
$c->insert_network('::1/128',       { country => { iso_code => $country } });
$c->insert_network('10.0.0.0/8',    { country => { iso_code => 'US' } });
$c->insert_network('2001:db8::/32', { country => { iso_code => 'JP' } });
$c->insert_network('192.0.2.0/24',  { registered_country => { iso_code => 'FR' } });
write_tree($c, "$out/country.mmdb");

my $a = tree('GeoLite2-ASN');
my %org = (autonomous_system_organization => 'Test');
$a->insert_network('127.0.0.0/8',   { autonomous_system_number => $asn + 0, %org });
$a->insert_network('::1/128',       { autonomous_system_number => $asn + 0, %org });
$a->insert_network('10.0.0.0/8',    { autonomous_system_number => 64513, %org });
$a->insert_network('2001:db8::/32', { autonomous_system_number => 64515, autonomous_system_organization => 'Test v6' });
write_tree($a, "$out/asn.mmdb");
