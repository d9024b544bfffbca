// A faster Huffman decoder for baseline JPEG, plugged into libjpeg in place of its own.
//
// Why: on photo-sized JPEGs decoded at 1/4 scale, libjpeg-turbo's Huffman decoding is
// most of the decoding time (46% of `taggan features`' CPU on 2400x1600 photos), and
// both the image pipeline and the Python stack it is compared with pay it in full.
// libjpeg parses the headers and markers, builds and checks the Huffman tables, and does
// the IDCT, upsampling and colour conversion as before; only `decode_mcu`, which turns
// the entropy-coded bytes into one MCU's quantised coefficients, is ours. It writes the
// same coefficients libjpeg writes, so the pixels are the same to the bit.
//
// What makes it faster than libjpeg-turbo 2.1's decoder:
// - one table lookup usually decodes a whole coefficient: for codes whose Huffman code
//   and value bits fit in TABLE_BITS, the entry holds the run, the sign-extended value
//   and the total length;
// - the bit buffer is refilled 8 bytes at a time when those bytes hold no 0xFF (the
//   only byte that needs un-stuffing or can start a marker), byte by byte otherwise.
//
// Corrupt data is treated as libjpeg's slow path treats it: a marker reached before the
// data ends is JWRN_HIT_MARKER and the missing bits read as zeros, a code longer than 16
// bits is JWRN_HUFF_BAD_CODE and decodes as symbol 0. taggan's error manager makes both
// warnings errors. Where libjpeg is inconsistent this decoder is the stricter, so that it
// never gives a picture libjpeg would not: whole bytes left before a restart marker or
// the end of the scan are always JWRN_EXTRANEOUS_DATA, fill bytes before data (FF FF 00)
// too, and a DC sum past the int range is JERR_BAD_DCT_COEF. Only single-scan baseline
// files with 8-bit samples are taken; for any other file libjpeg's own decoder stays.

#include "jpeg_entropy.h"

#include <stdint.h>
#include <string.h>
#include <jpegint.h>
#include <jerror.h>

#define TABLE_BITS 10
#define TABLE_SIZE (1 << TABLE_BITS)

// Table entries (int32): bits 0-5 the bits to consume (in the low 6 bits so that the
// shift by it needs no masking on x86), bits 6-9 the run of zeros, bits 10-13 the value's
// size still to read (0 when the value is in the entry), bit 14 "end of block" (AC symbol
// with size 0 and run other than 15), bit 15 "code longer than TABLE_BITS" (decode it bit
// by bit), bits 16-31 the value (signed). An entry with neither bits 10-13 nor bit 15 is
// a whole symbol and its value.
#define ENTRY_LENGTH(e) ((e) & 63)
#define ENTRY_RUN(e) (((e) >> 6) & 15)
#define ENTRY_SIZE(e) (((e) >> 10) & 15)
#define ENTRY_END 0x4000
#define ENTRY_LONG 0x8000
#define ENTRY_WHOLE(e) (((e) & 0xBC00) == 0)
#define ENTRY_VALUE(e) ((e) >> 16)

typedef struct {
    int32_t table[TABLE_SIZE];
    int32_t maxcode[18];    // largest code of each length, -1 if none; [17] a sentinel
    int32_t valoffset[18];  // symbol index = code + valoffset[length]
    uint8_t symbols[256];
} fast_table;

typedef struct {
    struct jpeg_entropy_decoder pub;  // first: libjpeg sees a struct jpeg_entropy_decoder
    struct jpeg_entropy_decoder *original;
    uint64_t bits;          // left-aligned: the next bit to read is the top bit
    int count;              // valid bits in `bits`; negative once zeros past a marker were read
    int last_dc[MAX_COMPS_IN_SCAN];
    unsigned int restarts_to_go;
    long mcus_left;         // in the scan
    fast_table *dc[D_MAX_BLOCKS_IN_MCU], *ac[D_MAX_BLOCKS_IN_MCU];
    int component[D_MAX_BLOCKS_IN_MCU];
    fast_table tables[2 * NUM_HUFF_TBLS];
    JBLOCK discard;         // where coefficients go when the caller passes no blocks
} fast_entropy;

// Zigzag position to natural (row-major) position, with 16 extra entries of 63 so that a
// run past the end of a corrupt block writes to the last coefficient, as libjpeg does.
static const int natural_order[64 + 16] = {
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
    63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63};

static inline int extend(int value, int size) {
    return value < (1 << (size - 1)) ? value - (1 << size) + 1 : value;
}

// Builds the lookup table of one Huffman table; 0 when the table is not a valid one
// (libjpeg would have refused it already; the caller then keeps libjpeg's decoder).
static int build_table(fast_table *t, const JHUFF_TBL *huff, int is_dc) {
    int count = 0;
    for (int l = 1; l <= 16; l++) count += huff->bits[l];
    if (count > 256) return 0;
    memcpy(t->symbols, huff->huffval, sizeof t->symbols);
    for (int i = 0; i < TABLE_SIZE; i++) t->table[i] = ENTRY_LONG;
    int32_t code = 0, index = 0;
    for (int l = 1; l <= 16; l++) {
        int n = huff->bits[l];
        t->valoffset[l] = index - code;
        for (int i = 0; i < n; i++, index++, code++) {
            if (code >= (1 << l)) return 0;  // more codes of this length than fit
            int symbol = huff->huffval[index];
            int run = is_dc ? 0 : symbol >> 4, size = is_dc ? symbol : symbol & 15;
            if (is_dc && symbol > 15) return 0;
            if (l > TABLE_BITS) continue;
            int spare = TABLE_BITS - l;
            for (int suffix = 0; suffix < (1 << spare); suffix++) {
                int32_t entry;
                if (size == 0) {
                    int end = !is_dc && run != 15;
                    entry = l | (run << 6) | (end ? ENTRY_END : 0);
                } else if (l + size <= TABLE_BITS) {
                    int raw = (suffix >> (spare - size)) & ((1 << size) - 1);
                    entry = (l + size) | (run << 6) | (int32_t)((uint32_t)extend(raw, size) << 16);
                } else {
                    entry = l | (run << 6) | (size << 10);
                }
                t->table[(code << spare) | suffix] = entry;
            }
        }
        t->maxcode[l] = n ? code - 1 : -1;
        code <<= 1;
    }
    t->maxcode[17] = INT32_MAX;
    t->valoffset[17] = 0;
    return 1;
}

typedef struct {
    const JOCTET *next;
    size_t available;
    uint64_t bits;
    int count;
} reader;

// Byte-at-a-time refill with libjpeg's rules: FF 00 is a data byte FF, FF FF is fill,
// FF and anything else is a marker: remembered in unread_marker, after which no more
// bytes are read and zeros follow. Returns 0 if the source suspends.
__attribute__((noinline)) static int refill_slowly(j_decompress_ptr cinfo, reader *r) {
    r->bits = r->count > 0 ? r->bits & ~(~(uint64_t)0 >> r->count) : 0;
    while (r->count <= 56 && cinfo->unread_marker == 0) {
        unsigned c = 0, fill = 0;
        do {
            if (r->available == 0) {
                cinfo->src->next_input_byte = r->next;
                cinfo->src->bytes_in_buffer = 0;
                if (!(*cinfo->src->fill_input_buffer)(cinfo)) return 0;
                r->next = cinfo->src->next_input_byte;
                r->available = cinfo->src->bytes_in_buffer;
                if (r->available == 0) return 0;
            }
            unsigned previous = c;
            c = *r->next++;
            r->available--;
            if (previous != 0xFF && c == 0xFF) continue;  // FF: look at what follows
            if (previous == 0xFF && c == 0xFF) {          // FF FF: fill bytes
                fill++;
                continue;
            }
            if (previous == 0xFF) {
                if (c == 0) {
                    // FF 00: a data byte FF. Fill bytes may precede a marker, not data:
                    // FF FF 00 is corrupt. (libjpeg-turbo 2.1's fast path takes its FF FF
                    // for a marker, gives up the MCU half-decoded and decodes it again
                    // over the coefficients it already wrote: a picture with stray ones.)
                    if (fill) WARNMS2(cinfo, JWRN_EXTRANEOUS_DATA, fill, 0);
                    c = 0xFF;
                } else {
                    cinfo->unread_marker = (int)c;
                    return 1;
                }
            }
            break;
        } while (1);
        if (r->count < 0) r->count = 0;
        r->bits |= (uint64_t)c << (56 - r->count);
        r->count += 8;
    }
    return 1;
}

// Reads a code longer than TABLE_BITS bit by bit against the canonical code's limits;
// returns its symbol and its length in *length (17 for a code no table has).
static int long_code(uint64_t bits, const fast_table *t, int *length) {
    int l = TABLE_BITS + 1;
    int32_t code = (int32_t)(bits >> (64 - l));
    while (code > t->maxcode[l]) {
        l++;
        code = (int32_t)(bits >> (64 - l));
    }
    *length = l;
    if (l > 16) return 0;
    return t->symbols[(code + t->valoffset[l]) & 0xFF];
}

static void hit_marker(j_decompress_ptr cinfo, fast_entropy *e) {
    if (!e->pub.insufficient_data) {
        WARNMS(cinfo, JWRN_HIT_MARKER);
        e->pub.insufficient_data = TRUE;
    }
}

// The reader's state lives in locals (bits, count, next, available) so the compiler
// keeps it in registers; REFILL makes at least 32 bits readable (zeros past a marker),
// 8 bytes at a time when none of them is 0xFF. One refill per symbol is enough: a code
// (at most 16 bits) and its value bits (at most 15) take at most 31.
#define REFILL()                                                                            \
    if (count < 32 && !at_marker) {                                                         \
        uint64_t word_;                                                                     \
        int fast_ = 0;                                                                      \
        if (available >= 8) {                                                               \
            memcpy(&word_, next, 8);                                                        \
            uint64_t x_ = ~word_;                                                           \
            if (((x_ - 0x0101010101010101ULL) & ~x_ & 0x8080808080808080ULL) == 0) {        \
                int bytes_ = (63 - count) >> 3;                                             \
                bits |= __builtin_bswap64(word_) >> count;                                  \
                next += bytes_;                                                             \
                available -= (size_t)bytes_;                                                \
                count += bytes_ * 8;                                                        \
                fast_ = 1;                                                                  \
            }                                                                               \
        }                                                                                   \
        if (!fast_) {                                                                       \
            reader r_ = {next, available, bits, count};                                     \
            if (!refill_slowly(cinfo, &r_)) return FALSE;                                   \
            next = r_.next; available = r_.available; bits = r_.bits; count = r_.count;     \
            at_marker = cinfo->unread_marker != 0;                                          \
        }                                                                                   \
    }
#define CONSUME(n) (bits <<= (n), count -= (n))
// A code longer than the table: its symbol into `symbol`, its bits consumed; a code no
// table has is JWRN_HUFF_BAD_CODE (an error for taggan) and symbol 0.
#define LONG_CODE(symbol, table)                                                            \
    do {                                                                                    \
        int length_;                                                                        \
        (symbol) = long_code(bits, (table), &length_);                                      \
        if (length_ > 16) {                                                                 \
            CONSUME(16);                                                                    \
            WARNMS(cinfo, JWRN_HUFF_BAD_CODE);                                              \
        } else {                                                                            \
            CONSUME(length_);                                                               \
        }                                                                                   \
    } while (0)
#define PEEK(n) ((int)(bits >> (64 - (n))))

// Whole bytes left unread in the buffer when a restart interval or the scan ends are data
// the encoder did not write for these MCUs. libjpeg reports them (JWRN_EXTRANEOUS_DATA)
// when it finds them in the source, not when its buffer has already swallowed them; this
// decoder, whose buffer reaches further, reports them always.
static void check_leftover(j_decompress_ptr cinfo, fast_entropy *e) {
    if (e->count < 8) return;
    unsigned bytes = (unsigned)e->count / 8;
    if (cinfo->unread_marker == 0) {
        cinfo->marker->discarded_bytes += bytes;  // next_marker reports them with its own
    } else {
        WARNMS2(cinfo, JWRN_EXTRANEOUS_DATA, bytes, cinfo->unread_marker);
    }
}

static boolean decode_mcu(j_decompress_ptr cinfo, JBLOCKROW *MCU_data) {
    fast_entropy *e = (fast_entropy *)cinfo->entropy;
    if (cinfo->restart_interval) {
        if (e->restarts_to_go == 0) {
            check_leftover(cinfo, e);
            e->count = 0;
            e->bits = 0;
            if (!(*cinfo->marker->read_restart_marker)(cinfo)) return FALSE;
            for (int ci = 0; ci < cinfo->comps_in_scan; ci++) e->last_dc[ci] = 0;
            e->restarts_to_go = cinfo->restart_interval;
            if (cinfo->unread_marker == 0) e->pub.insufficient_data = FALSE;
        }
    }
    const JOCTET *next = cinfo->src->next_input_byte;
    size_t available = cinfo->src->bytes_in_buffer;
    uint64_t bits = e->bits;
    int count = e->count;
    int at_marker = cinfo->unread_marker != 0;
    int dc[MAX_COMPS_IN_SCAN];
    memcpy(dc, e->last_dc, sizeof dc);
    if (!e->pub.insufficient_data) {
        for (int b = 0; b < cinfo->blocks_in_MCU; b++) {
            JCOEF *block = MCU_data ? MCU_data[b][0] : e->discard;
            if (!MCU_data) memset(e->discard, 0, sizeof e->discard);
            const fast_table *dct = e->dc[b], *act = e->ac[b];
            // DC: the difference from the previous block's DC of the same component.
            REFILL();
            int32_t entry = dct->table[PEEK(TABLE_BITS)];
            int diff = 0;
            if (ENTRY_WHOLE(entry)) {
                diff = ENTRY_VALUE(entry);
                CONSUME(ENTRY_LENGTH(entry));
            } else {
                int size;
                if (!(entry & ENTRY_LONG)) {
                    size = ENTRY_SIZE(entry);
                    CONSUME(ENTRY_LENGTH(entry));
                } else {
                    LONG_CODE(size, dct);
                }
                if (size) {  // (code + value bits <= 31: the refill above made them readable)
                    diff = extend(PEEK(size), size);
                    CONSUME(size);
                }
            }
            // Corrupt files can repeat large differences until the sum leaves the int
            // range: an error (the stricter of libjpeg versions' two behaviours), not a wrap.
            int *last = &dc[e->component[b]];
            long long sum = (long long)*last + diff;
            if (sum > INT32_MAX || sum < INT32_MIN) ERREXIT(cinfo, JERR_BAD_DCT_COEF);
            *last = (int)sum;
            block[0] = (JCOEF)*last;
            // AC: (run of zeros, value) pairs in zigzag order up to an end of block.
            for (int k = 1; k < 64; k++) {
                REFILL();
                entry = act->table[PEEK(TABLE_BITS)];
                if (ENTRY_WHOLE(entry)) {
                    CONSUME(ENTRY_LENGTH(entry));
                    if (entry & ENTRY_END) break;
                    k += ENTRY_RUN(entry);
                    // (value 0 here is the run of 16 zeros, ZRL: k += 15, then ++)
                    block[natural_order[k]] = (JCOEF)ENTRY_VALUE(entry);
                    continue;
                }
                int symbol;
                if (!(entry & ENTRY_LONG)) {
                    symbol = (ENTRY_RUN(entry) << 4) | ENTRY_SIZE(entry);
                    CONSUME(ENTRY_LENGTH(entry));
                } else {
                    LONG_CODE(symbol, act);
                }
                int run = symbol >> 4, size = symbol & 15;
                if (size == 0) {
                    if (run != 15) break;
                    k += 15;
                    continue;
                }
                k += run;
                block[natural_order[k]] = (JCOEF)extend(PEEK(size), size);
                CONSUME(size);
            }
            if (count < 0) hit_marker(cinfo, e);
        }
    }
    cinfo->src->next_input_byte = next;
    cinfo->src->bytes_in_buffer = available;
    e->bits = bits;
    e->count = count;
    memcpy(e->last_dc, dc, sizeof dc);
    if (cinfo->restart_interval) e->restarts_to_go--;
    if (--e->mcus_left == 0) check_leftover(cinfo, e);
    return TRUE;
}

// A later scan (none in the files this decoder takes) goes back to libjpeg's decoder.
static void start_pass(j_decompress_ptr cinfo) {
    fast_entropy *e = (fast_entropy *)cinfo->entropy;
    cinfo->entropy = e->original;
    (*cinfo->entropy->start_pass)(cinfo);
}

int taggan_jpeg_fast_entropy(j_decompress_ptr cinfo) {
    if (cinfo->progressive_mode || cinfo->arith_code || cinfo->data_precision != 8) return 0;
    if (cinfo->comps_in_scan != cinfo->num_components || cinfo->Ss != 0 || cinfo->Se != 63 ||
        cinfo->Ah != 0 || cinfo->Al != 0) return 0;
    if (cinfo->blocks_in_MCU < 1 || cinfo->blocks_in_MCU > D_MAX_BLOCKS_IN_MCU) return 0;
    if (cinfo->entropy == NULL || cinfo->entropy->insufficient_data) return 0;
    fast_entropy *e = (fast_entropy *)(*cinfo->mem->alloc_small)((j_common_ptr)cinfo, JPOOL_IMAGE, sizeof *e);
    memset(e, 0, sizeof *e);
    int built[2 * NUM_HUFF_TBLS] = {0};
    for (int b = 0; b < cinfo->blocks_in_MCU; b++) {
        int ci = cinfo->MCU_membership[b];
        if (ci < 0 || ci >= cinfo->comps_in_scan) return 0;
        jpeg_component_info *component = cinfo->cur_comp_info[ci];
        int dcn = component->dc_tbl_no, acn = component->ac_tbl_no;
        if (dcn < 0 || dcn >= NUM_HUFF_TBLS || acn < 0 || acn >= NUM_HUFF_TBLS) return 0;
        const JHUFF_TBL *dch = cinfo->dc_huff_tbl_ptrs[dcn], *ach = cinfo->ac_huff_tbl_ptrs[acn];
        if (!dch || !ach) return 0;
        if (!built[dcn] && !build_table(&e->tables[dcn], dch, 1)) return 0;
        if (!built[NUM_HUFF_TBLS + acn] && !build_table(&e->tables[NUM_HUFF_TBLS + acn], ach, 0)) return 0;
        built[dcn] = built[NUM_HUFF_TBLS + acn] = 1;
        e->dc[b] = &e->tables[dcn];
        e->ac[b] = &e->tables[NUM_HUFF_TBLS + acn];
        e->component[b] = ci;
    }
    e->original = cinfo->entropy;
    e->restarts_to_go = cinfo->restart_interval;
    e->mcus_left = (long)cinfo->MCUs_per_row * (long)cinfo->MCU_rows_in_scan;
    e->pub.start_pass = start_pass;
    e->pub.decode_mcu = decode_mcu;
    e->pub.insufficient_data = FALSE;
    cinfo->entropy = &e->pub;
    return 1;
}
