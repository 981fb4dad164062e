/* SentencePiece-style BPE by score (docs/formats.md §7.1, §7.2): llama2.c tok*.bin files and
 * GGUF "llama" vocabularies. Merging picks the adjacent pair whose concatenation is a piece
 * with the highest score (leftmost on ties); code points that are not pieces fall back to
 * <0xXX> byte pieces. Runs in O(n log n) over the whole text with a bigram heap. */
#ifndef LS_TOK_SPM_H
#define LS_TOK_SPM_H

#include "base/error.h"
#include "formats/gguf.h"
#include "tokenizer/tok_impl.h"

/* Reads a llama2.c tokenizer with vocab_size pieces (the file does not store the count):
 * ids 0/1/2 are unk/BOS/EOS, a " " dummy prefix, BOS always added for evaluation. */
ls_tokenizer *tok_spm_read_llama2c(const char *path, int vocab_size, ls_error *err);

/* Completes a tokenizer whose vocabulary (pieces, types, special ids) was read from GGUF
 * metadata: scores, the space prefix and '▁' escaping, BOS default true. */
int tok_spm_setup_gguf(ls_tokenizer *t, const ls_gguf *g, ls_error *err);

#endif
