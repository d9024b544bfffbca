#!/usr/bin/env python3
"""Build taggan's plain-English text corpus from unpacked Debian packages.

Standard library only.  Usage:

    build_text_corpus.py ROOT OUTDIR

ROOT is a directory into which the .deb files of dict-gcide, wordnet-base,
bible-kjv-text and fortunes were unpacked with `dpkg -x` (so it holds
ROOT/usr/share/dictd/gcide.*, ROOT/usr/share/wordnet/data.*,
ROOT/usr/lib/bible.data and ROOT/usr/share/games/fortunes/).

Writes OUTDIR/{gcide,wordnet,kjv,fortunes}.txt and their concatenation
OUTDIR/english.txt: UTF-8, one paragraph / definition / gloss / verse /
fortune per line, no blank lines, whitespace collapsed.  GCIDE lines read
"Headword: definition" (pronunciation, grammar, etymology and source tags
dropped); WordNet lines are bare glosses; KJV lines are verses without
their references; fortunes are joined into one line each.  Prints one line
per source to stdout: `NAME lines=N words=N` (words = whitespace tokens).
"""

import gzip
import os
import re
import struct
import sys
import unicodedata

# --------------------------------------------------------------------------
# common helpers

_WS = re.compile(r"\s+")


def squash(text):
    """Collapse all whitespace (including newlines and tabs) to single spaces."""
    return _WS.sub(" ", text).strip()


def has_letters(text):
    return any(c.isalpha() for c in text)


class Writer:
    """Writes one cleaned unit per line and counts lines and words."""

    def __init__(self, path):
        self.f = open(path, "w", encoding="utf-8", newline="\n")
        self.lines = 0
        self.words = 0

    def add(self, text):
        text = squash(text)
        if not text or not has_letters(text):
            return
        self.f.write(text + "\n")
        self.lines += 1
        self.words += len(text.split(" "))

    def close(self):
        self.f.close()


# --------------------------------------------------------------------------
# GCIDE (dictd format: gcide.index + gcide.dict.dz, gzip-compatible)

_B64 = {c: i for i, c in enumerate(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}


def _b64num(s):
    n = 0
    for c in s:
        n = n * 64 + _B64[c]
    return n


def _build_char_codes():
    """Map GCIDE's bracketed character codes ([`e], [ae], [alpha], ...) to text."""
    codes = {}
    marks = {"'": "\u0301", "`": "\u0300", '"': "\u0308", "^": "\u0302",
             "~": "\u0303", "=": "\u0304", ".": "\u0307", ",": "\u0327",
             "-": "\u0304", "*": "\u030a"}
    letters = "aeiouyncAEIOUYNCrhtsmzdlgkw"
    for m, comb in marks.items():
        for ch in letters:
            codes[m + ch] = unicodedata.normalize("NFC", ch + comb)
    for ch in "aeiouyAEIOUY":   # [a^] is a breve
        codes[ch + "^"] = unicodedata.normalize("NFC", ch + "\u0306")
    codes["oo^"] = "oo"
    codes["=oo"] = "oo"
    codes["=ae"] = "ǣ"
    special = {
        "ae": "æ", "AE": "Æ", "oe": "œ", "eth": "ð", "thorn": "þ", "ng": "ŋ",
        "th": "th", "imac": "ī", "aum": "ä", "udd": "u", "asl": "a", "add": "a",
        "schwa": "ə", "yogh": "ȝ", "root": "√", "deg": "°", "sect": "§",
        "pounds": "£", "para": "¶", "dag": "†", "dagger": "†", "middot": "·",
        "times": "×", "divby": "÷", "div": "÷", "min": "′", "sec": "″",
        "flat": "♭", "sharp": "♯", "natural": "♮", "hand": "☞", "nbsp": " ",
        "ldqo": "“", "rdqo": "”", "rsquo": "’", "filig": "fi", "fllig": "fl",
        "ffllig": "ffl", "break": " ", "nabla": "∇", "rarr": "→",
        "cacute": "ć", "ccaron": "č", "digamma": "ϝ", "sigmat": "ς",
        "frac19": "1/9", "frac37": "3/7", "frac43": "4/3", "frac67": "6/7",
    }
    codes.update(special)
    greek = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta",
             "theta", "iota", "kappa", "lambda", "mu", "nu", "xi", "omicron",
             "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi",
             "omega"]
    for g in greek:
        uname = "LAMDA" if g == "lambda" else g.upper()   # Unicode's spelling
        codes[g] = unicodedata.lookup("GREEK SMALL LETTER " + uname)
        codes[g.capitalize()] = unicodedata.lookup("GREEK CAPITAL LETTER " + uname)
    return codes


_CHAR_CODES = _build_char_codes()
_CODE_RE = re.compile(r"\[([^\[\]\s]{1,8})\]")
_SOURCE_TAG = re.compile(
    r"\[(?:[^\[\]]*(?:Webster|WordNet|PJC|Century|Chambers|RHUD|MW10|MI11|WE1|W13)"
    r"[^\[\]]*|RDH|JG|PC|RP|GG|W\.|\+|\+PJC)\]")
_LABELS = {"archaic", "slang", "poetic", "rare", "recent", "colloq", "obs",
           "vulgar", "jocose", "jocular", "local", "cant", "low", "scot",
           "eng", "prov", "r", "u", "s", "law", "dial", "derog", "fig",
           "abbr", "abbrev", "acron", "acronym", "british", "brit", "amer",
           "canada", "india", "informal", "nformal", "playful", "modern",
           "obsolete", "obsolescent", "medical", "old", "generic"}
_LABEL_RE = re.compile(r"\[([A-Za-z][A-Za-z. ]{0,24})\]")
_HEADWORD = re.compile(r'\\[^\\\n]{1,80}\\')
_PRON = re.compile(r"\((?=[^()\n]*(?:\[[^\]]{1,6}\]|\*|\"|`))[^()]{0,200}\)")
_ATTRIB = re.compile(r"\s--\s?[A-Z][^\n]{0,70}$")
_LEAD = re.compile(r"^(?:\d{1,2}\.\s+(?:\d\s+)?|\([a-z]\)\s+|(?:Syn|Note|Usage|Syn\.)\s*:\s*|--\s*)+")
_FOOTNOTE = re.compile(r"\[\d[\d,.-]*[a-z]?\]")
_HEADER_CONT = re.compile(r"^(?:[a-z]{1,4}\.|\[|\{|&|;|,)")


def _bracket_depth(text):
    return text.count("[") - text.count("]")


def _gcide_codes(text):
    def repl(m):
        code = m.group(1)
        if code in _CHAR_CODES:
            return _CHAR_CODES[code]
        return m.group(0)
    return _CODE_RE.sub(repl, text)


def _gcide_labels(text):
    def repl(m):
        words = [w.strip(".").lower() for w in m.group(1).split()]
        if words and all(w in _LABELS for w in words):
            return ""
        if all(re.fullmatch(r"[A-Z][a-z]{0,4}\.", w) for w in m.group(1).split()):
            return ""  # [Obs.] [Prov. Eng.] [U. S.] ...
        return m.group(0)
    return _LABEL_RE.sub(repl, text)


_LEAKED_HEADWORD = re.compile(
    r"^(\s*\[[^\[\]]*(?:Webster|WordNet|PJC)[^\[\]]*\])\s*\S+(?:\s+\S+){0,3}\s*$")


def gcide_headword(line):
    """The headword of a GCIDE header line, without stress and syllable marks."""
    m = re.match(r"[^\\]*\\([^\\]{1,80})\\", line)
    word = m.group(1) if m else re.split(r"\s{2,}|,|\\", line, 1)[0]
    word = _gcide_codes(word)
    word = re.sub(r'[*"`]', "", word)
    word = re.sub(r"\[[^\]]*\]", "", word)
    return squash(word)


def clean_gcide_paragraph(lines):
    """Clean one paragraph (list of raw lines) of a GCIDE entry; '' if noise."""
    # dictd conversion artifact: the next entry's headword after a source tag
    lines = lines[:-1] + [_LEAKED_HEADWORD.sub(r"\1", lines[-1])]
    out = []
    for ln in lines:
        ln = _ATTRIB.sub("", ln.rstrip())
        out.append(ln.strip())
    text = " ".join(out)
    text = _SOURCE_TAG.sub(" ", text)
    text = _HEADWORD.sub(" ", text)
    text = _PRON.sub(" ", text)
    text = _FOOTNOTE.sub("", text)
    text = _gcide_codes(text)
    text = _gcide_labels(text)
    text = text.replace("{", "").replace("}", "")
    # editorial insertions in quotations, e.g. "[He] said": keep the word
    text = re.sub(r"\[([^\[\]]{1,40})\]", r"\1", text)
    text = squash(text)
    text = _LEAD.sub("", text)
    text = re.sub(r"\s+([,;:.])", r"\1", text)
    text = re.sub(r"^[,;:.\s]+", "", text)
    return squash(text)


def split_gcide_entry(text):
    """Yield 'Headword: definition' lines for the paragraphs of one dictd entry."""
    lines = text.strip("\n").split("\n")
    if not lines or not lines[0] or lines[0][0].isspace():
        return  # front matter fragment, not a dictionary entry
    paragraphs = []
    cur = []
    for ln in lines:
        if ln.strip():
            cur.append(ln)
        elif cur:
            paragraphs.append(cur)
            cur = []
    if cur:
        paragraphs.append(cur)
    headword = ""
    for para in paragraphs:
        if not para[0][0].isspace():
            # headword line: keep the headword, drop its pronunciation,
            # grammar and etymology (and their continuation lines)
            headword = gcide_headword(para[0])
            depth = _bracket_depth(para[0])
            i = 1
            while i < len(para) and (depth > 0 or _HEADER_CONT.match(para[i].strip())):
                depth += _bracket_depth(para[i])
                i += 1
            para = para[i:]
            if not para:
                continue
        cleaned = clean_gcide_paragraph(para)
        if cleaned and has_letters(cleaned):
            yield "%s: %s" % (headword, cleaned) if headword else cleaned


def build_gcide(root, w):
    base = os.path.join(root, "usr/share/dictd")
    index = os.path.join(base, "gcide.index")
    with gzip.open(os.path.join(base, "gcide.dict.dz"), "rb") as f:
        data = f.read()
    spans = set()
    with open(index, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or parts[0].startswith("00"):
                continue
            spans.add((_b64num(parts[1]), _b64num(parts[2])))
    entries = 0
    end = 0
    for off, length in sorted(spans):
        if off < end:
            continue  # nested/overlapping span: already covered
        end = off + length
        entries += 1
        text = data[off:off + length].decode("utf-8", errors="replace")
        for para in split_gcide_entry(text):
            w.add(para)
    return entries


# --------------------------------------------------------------------------
# WordNet glosses

def build_wordnet(root, w):
    n = 0
    for pos in ("noun", "verb", "adj", "adv"):
        path = os.path.join(root, "usr/share/wordnet", "data." + pos)
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  "):
                    continue  # licence header
                _, sep, gloss = line.partition(" | ")
                if not sep:
                    continue
                n += 1
                w.add(gloss)
    return n


# --------------------------------------------------------------------------
# KJV bible (bible-kjv-text's "EC02" file: 64 KiB windows, each an LZW
# stream in the format of Unix compress(1), block mode, 16 bits max)

def unlzw(data, maxbits=16):
    """Decode a raw compress(1) code stream (without its 3-byte header)."""
    out = bytearray()
    table = [bytes([i]) for i in range(256)] + [b""]
    n_bits = 9
    maxcode = (1 << n_bits) - 1
    maxmaxcode = 1 << maxbits
    free_ent = 257
    total = len(data) * 8
    buf = data + b"\0\0\0"
    pos = 0
    base = 0   # codes come in groups of 8; a width change skips to a group end
    old = None
    while pos + n_bits <= total:
        if free_ent > maxcode:
            g = n_bits * 8
            pos = base + -(-(pos - base) // g) * g
            base = pos
            n_bits += 1
            maxcode = maxmaxcode if n_bits == maxbits else (1 << n_bits) - 1
            continue
        i = pos >> 3
        code = ((buf[i] | buf[i + 1] << 8 | buf[i + 2] << 16) >> (pos & 7)) & ((1 << n_bits) - 1)
        pos += n_bits
        if old is None:
            old = code
            out += table[code]
            continue
        if code == 256:
            del table[257:]
            free_ent = 256
            g = n_bits * 8
            pos = base + -(-(pos - base) // g) * g
            base = pos
            n_bits = 9
            maxcode = (1 << n_bits) - 1
            continue
        if code < free_ent:
            entry = table[code]
        elif code == free_ent:
            entry = table[old] + table[old][:1]
        else:
            raise ValueError("corrupt LZW stream: code %d > next %d" % (code, free_ent))
        out += entry
        if free_ent < maxmaxcode:
            new = table[old] + entry[:1]
            if free_ent < len(table):
                table[free_ent] = new
            else:
                table.append(new)
            free_ent += 1
        old = code
    return bytes(out)


def read_bible_data(path):
    with open(path, "rb") as f:
        d = f.read()
    if not d.startswith(b"EC02"):
        raise ValueError("%s: not an EC02 compressed bible file" % path)
    window, nwin = struct.unpack(">II", d[0x54:0x5c])
    offs = struct.unpack(">%dI" % (nwin + 1), d[0x5c:0x5c + 4 * (nwin + 1)])
    if offs[nwin] != len(d):
        raise ValueError("%s: window table ends at %d, file has %d bytes" % (path, offs[nwin], len(d)))
    parts = []
    for i in range(nwin):
        chunk = unlzw(d[offs[i]:offs[i + 1]])
        if i < nwin - 1 and len(chunk) != window:
            raise ValueError("%s: window %d decoded to %d bytes, not %d" % (path, i, len(chunk), window))
        parts.append(chunk)
    return b"".join(parts).decode("ascii")


_VERSE = re.compile(r"^([1-3]?[A-Za-z]+)(\d+):(\d+) (.*)$")


def build_kjv(root, w):
    text = read_bible_data(os.path.join(root, "usr/lib/bible.data"))
    verses = 0
    for line in text.split("\n"):
        m = _VERSE.match(line)
        if not m:
            continue  # the title line
        verses += 1
        w.add(m.group(4))
    return verses


# --------------------------------------------------------------------------
# fortunes

_SKIP_FORTUNE_FILES = {"ascii-art"}


def build_fortunes(root, w):
    base = os.path.join(root, "usr/share/games/fortunes")
    n = 0
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d != "off")  # offensive set
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if (name.endswith(".dat") or name.endswith(".u8") or os.path.islink(path)
                    or name in _SKIP_FORTUNE_FILES):
                continue
            with open(path, "rb") as f:
                raw = f.read()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
            for chunk in re.split(r"(?m)^%\s*$", text):
                body = squash(chunk)
                if not body:
                    continue
                nonspace = body.replace(" ", "")
                if sum(c.isalpha() for c in nonspace) < 0.5 * len(nonspace):
                    continue  # drawings, tables of symbols
                n += 1
                w.add(body)
    return n


# --------------------------------------------------------------------------

SOURCES = [("gcide", build_gcide), ("wordnet", build_wordnet),
           ("kjv", build_kjv), ("fortunes", build_fortunes)]


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    root, outdir = argv[1], argv[2]
    os.makedirs(outdir, exist_ok=True)
    for name, fn in SOURCES:
        w = Writer(os.path.join(outdir, name + ".txt"))
        try:
            units = fn(root, w)
        finally:
            w.close()
        print("%s units=%d lines=%d words=%d" % (name, units, w.lines, w.words))
        sys.stdout.flush()
    with open(os.path.join(outdir, "english.txt"), "wb") as out:
        for name, _ in SOURCES:
            with open(os.path.join(outdir, name + ".txt"), "rb") as f:
                while True:
                    block = f.read(1 << 20)
                    if not block:
                        break
                    out.write(block)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
