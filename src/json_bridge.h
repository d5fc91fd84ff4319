/* The JSON bridge: response bodies become nested Lua tables through a
 * private lua-cjson instance, so the host's own cjson settings are never
 * read or changed. */
#ifndef ANTHROPIC_ENV_JSON_BRIDGE_H
#define ANTHROPIC_ENV_JSON_BRIDGE_H

#include <stddef.h>
#include <lua.h>

/* Deep enough for any API object, shallow enough that hostile input cannot
 * exhaust the C stack. */
#define JSON_MAX_DEPTH 128

/* Pushes a configured cjson instance (a table of functions). Raises a Lua
 * error if lua-cjson cannot be loaded. */
void json_bridge_new_instance(lua_State *L);

/* Decodes the string at stack index string_idx (not copied again) with the
 * instance's decode function at stack index decode_idx. Pushes the value
 * and returns 1, or pushes an error message and returns 0. Never raises for
 * bad input. */
int json_bridge_decode(lua_State *L, int decode_idx, int string_idx);

/* The values the encoder recognises, as stack (or upvalue) indexes; an index
 * holding nil never matches. */
typedef struct {
    int null_idx;               /* cjson.null: encodes as null */
    int array_mt_idx;           /* our array marker metatable */
    int cjson_array_mt_idx;     /* the cjson instance's array_mt, if it has one */
    int cjson_empty_array_mt_idx;
    int cjson_empty_array_idx;  /* the cjson instance's empty_array lightuserdata */
} json_markers_t;

/* Encodes the value at stack index idx as JSON, with object keys sorted
 * bytewise. Pushes the string and returns 1, or pushes an error message
 * naming where in the value the problem is and returns 0. Never raises:
 * the walk runs under lua_pcall and its buffers are freed on every path.
 * max_len (0: none) bounds the text: the walk stops, failing, as soon as
 * the text would pass it, so a value that stands for more text than memory
 * holds costs no more than max_len. */
int json_bridge_encode(lua_State *L, int idx, const json_markers_t *markers, size_t max_len);

#endif
