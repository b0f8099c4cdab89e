/*
 * yjs_text: the plain text of a Yjs document, for logs and search (pure library,
 * src/yjs).
 *
 * What: yjs_text_extract decodes an update v1 (yjs_update.h), integrates its structs
 * into a small document model the way `Y.applyUpdate(new Y.Doc(), update)` does, and
 * writes the visible text of its text roots and XML fragment roots. It answers "what
 * does this document say?" without a JavaScript runtime; the collaboration path itself
 * (merge, diff, relay) never needs it.
 *
 * The model (what a fresh Y.Doc would hold after applying the update):
 *  - Structs are integrated in yjs's order (Item.getMissing / Item.integrate and
 *    integrateStructs of yjs 13.6): highest client first, jumping to the client a
 *    struct depends on, YATA conflict resolution by origin, right origin and client
 *    id. When an update carries the same client in two groups, the later group wins,
 *    as in yjs's reader.
 *  - A struct whose dependencies (same-client predecessor, origin, right origin,
 *    parent) are not in the update stays pending and is left out, with the rest of its
 *    client. Skips are gaps. An item whose neighbour or parent is garbage-collected,
 *    or whose parent item is not a type, is itself garbage.
 *  - Items are split where yjs splits them: at origins, right origins and delete-set
 *    boundaries. A string cut between the halves of a surrogate pair shows U+FFFD on
 *    both sides, exactly as ContentString.splice does.
 *  - Deleted items (delete set, ContentDeleted, GC structs) are not shown; neither is
 *    anything inside a deleted type.
 *
 * Output format (UTF-8, appended to `out`):
 *  - Roots are visited in ascending byte order of their names (memcmp order; a name
 *    that is a prefix of another comes first).
 *  - The wire format does not record a root's type, so it is inferred from the root's
 *    sequence items, deleted ones included:
 *      text root - some item holds a String, Embed or Format (a Y.Text);
 *      XML root  - otherwise, some item holds an XmlElement, XmlFragment, XmlText or
 *                  XmlHook type (a Y.XmlFragment such as Open WebUI's "prosemirror";
 *                  a Y.Array of XML nodes reads the same way);
 *      any other root (Y.Map, Y.Array, nothing left) contributes nothing.
 *  - A text root contributes its visible characters in order: String items only;
 *    embeds, nested types and formatting are left out.
 *  - An XML root contributes lines, each ended by "\n":
 *      * A visible XmlText (or Text) directly under the root is one line.
 *      * A visible XmlElement (or nested XmlFragment) is a *text block* when it has a
 *        visible XmlText/Text child, or a visible `hardBreak` / `hard_break` element
 *        child, or no visible element child at all; its inline content is one line
 *        (so an empty paragraph, a horizontal rule or a block image is an empty line).
 *      * Any other element is a *container* (list, list item, blockquote, table, ...):
 *        it contributes the lines of its visible element children, in order, at any
 *        depth, with no indentation or markers.
 *      * Inline content of an element: its visible children in order; an XmlText/Text
 *        gives its visible characters (as for a text root), a `hardBreak` /
 *        `hard_break` element gives "\n", any other element gives its own inline
 *        content (a mention or inline image without children gives nothing).
 *      * XmlHook nodes and non-type items (Any, Binary, ...) contribute nothing.
 *  - A root whose contribution is empty is left out. Contributions of consecutive
 *    roots are separated by one "\n". For a note edited in Open WebUI (a single
 *    "prosemirror" root) the output is therefore one line per paragraph, heading,
 *    list item paragraph and code block, code blocks keeping their own newlines.
 *
 * Ownership: the update bytes are borrowed for the duration of the call; the model is
 * built and freed inside it. Text is appended to the caller's buffer; on error `out`
 * keeps whatever was in it before the call (nothing is appended).
 *
 * Threading: no globals; concurrent calls on different buffers are safe.
 *
 * Cost: like yjs, O(structs * log structs) for well-behaved histories, with the YATA
 * conflict scan quadratic in the number of concurrent inserts at one position. Peer-
 * controlled sizes are allocated with try_malloc; memory is a few hundred bytes per
 * struct. Deep XML trees are walked without recursion.
 *
 * Spec: shared/spec/yjs-update-format.md section 6 (materialising the document),
 * sections 2.4-2.5 (content kinds, UTF-16 slicing); yjs 13.6 Item.js, encoding.js
 * (integrateStructs), DeleteSet.js (readAndApplyDeleteSet), ContentString.js.
 */
#ifndef SIOC_YJS_TEXT_H
#define SIOC_YJS_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "yjs/yjs_codec.h"

/**
 * Appends the plain text of the document described by the update v1 `update` (`len`
 * bytes) to `out`, in the format of the header comment.
 *
 * Returns YJS_OK (0), or a negative yjs_status_t with `err` (may be NULL) filled:
 * every decoder error of yjs_update_decode, YJS_E_STRUCT for an item whose origin,
 * right origin or parent refers to its own client at or after its own clock (yjs
 * throws on those), YJS_E_NOMEM when the model does not fit in memory. On error
 * nothing is appended to `out`.
 */
int yjs_text_extract(const uint8_t *update, size_t len, buf_t *out, yjs_error_t *err);

#endif
