#include "proxy/runtime.h"

#include "filters/dynamodb/catalog.h"

/* DynamoDB response heads are a few hundred bytes. */
#define RUNTIME_RESPONSE_HEAD_LIMIT 16384

void
runtime_prepare(struct runtime *rt, const struct config *cfg)
{
	rt->cfg = cfg;
	rt->reverse.scope.partition = cfg->upstream.partition;
	rt->reverse.scope.region = cfg->upstream.region;
	rt->reverse.scope.account = cfg->account_id;
	rt->body_json.max_depth = JSON_DYNAMODB_MAX_DEPTH;
	rt->body_json.mem_multiple = JSON_BODY_MEM_MULTIPLE;
	rt->body_json.data_map_members = catalog_data_map_members;
	rt->body_json.n_data_map_members = catalog_n_data_map_members;
	rt->request_limits.max_header_bytes = cfg->limits.max_header_bytes;
	rt->request_limits.max_headers = cfg->limits.max_headers;
	rt->request_limits.max_body_bytes = cfg->limits.max_body_bytes;
	rt->response_limits.max_header_bytes = RUNTIME_RESPONSE_HEAD_LIMIT;
	rt->response_limits.max_headers = HTTP_MAX_HEADERS_HARD;
	rt->response_limits.max_body_bytes = cfg->limits.max_response_bytes;
}
