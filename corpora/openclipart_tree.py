#!/usr/bin/env python3
"""Prepare and check the openclipart tree for taggan (standard library only).

    openclipart_tree.py DIR

DIR holds png/ and svg/ as unpacked from Debian's openclipart-png and
openclipart-svg (/usr/share/openclipart/{png,svg}).  This script:

  1. counts PNG/SVG paths, symlinks and PNG/SVG pairing on the full tree;
  2. rewrites absolute symlinks (/usr/share/openclipart/...) as relative
     ones so that they resolve inside DIR;
  3. removes the generated shapes/stars folder from png/ and svg/, and
     reports symlinks that pointed into it or that resolve nowhere
     (those are removed too, so the tree holds no dangling link);
  4. reads each remaining PNG's IHDR (size) and each SVG's RDF metadata
     (dc:title of the cc:Work, dc:subject/rdf:Bag/rdf:li tags).

It prints KEY=VALUE lines on stdout (the caller checks them) and progress
on stderr.  It exits non-zero only on an unexpected layout.
"""

import os
import re
import struct
import sys
from collections import Counter

STARS = "shapes/stars"
DEBIAN_ROOT = "/usr/share/openclipart/"
PNG_SIG = b"\x89PNG\r\n\x1a\n"


def walk(root, ext):
    """Map relative path without extension -> absolute path, for files and links."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if not name.endswith(ext):
                raise SystemExit("unexpected file in %s: %s" % (root, rel))
            out[rel[: -len(ext)]] = path
    return out


def in_stars(rel):
    return rel == STARS or rel.startswith(STARS + "/")


def fix_absolute_links(top, files):
    """Rewrite links to /usr/share/openclipart/... as relative links."""
    n = 0
    for path in files.values():
        if not os.path.islink(path):
            continue
        target = os.readlink(path)
        if not target.startswith("/"):
            continue
        if not target.startswith(DEBIAN_ROOT):
            raise SystemExit("symlink %s points outside openclipart: %s" % (path, target))
        inside = os.path.join(top, target[len(DEBIAN_ROOT):])
        os.unlink(path)
        os.symlink(os.path.relpath(inside, os.path.dirname(path)), path)
        n += 1
    return n


def link_target_rel(path, root):
    """Relative path (inside root) that a symlink resolves to, or None if outside."""
    real = os.path.realpath(path)
    rel = os.path.relpath(real, os.path.realpath(root))
    return None if rel.startswith("..") else rel


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != PNG_SIG or head[12:16] != b"IHDR":
        raise SystemExit("not a PNG: %s" % path)
    return struct.unpack(">II", head[16:24])


_WORK = re.compile(r"<cc:Work\b.*?</cc:Work>", re.S)
_TITLE = re.compile(r"<dc:title>(.*?)</dc:title>", re.S)
_SUBJECT = re.compile(r"<dc:subject>(.*?)</dc:subject>", re.S)
_LI = re.compile(r"<rdf:li>(.*?)</rdf:li>", re.S)


def svg_meta(path):
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", errors="replace")
    work = _WORK.search(text)
    scope = work.group(0) if work else text
    # agents (creator, publisher, rights) have their own nested dc:title:
    # the work's title is the first one, before any <cc:Agent>
    head = scope.split("<cc:Agent", 1)[0]
    title = _TITLE.search(head)
    subject = _SUBJECT.search(scope)
    tags = [t.strip() for t in _LI.findall(subject.group(1))] if subject else None
    return (title.group(1).strip() if title else None), tags


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    top = argv[1]
    roots = {"png": os.path.join(top, "png"), "svg": os.path.join(top, "svg")}
    exts = {"png": ".png", "svg": ".svg"}
    kv = []

    def emit(k, v):
        kv.append((k, v))
        print("%s=%s" % (k, v))

    trees = {k: walk(r, exts[k]) for k, r in roots.items()}
    for k in ("png", "svg"):
        files = trees[k]
        emit("%s_paths_all" % k, len(files))
        emit("%s_paths_stars" % k, sum(1 for r in files if in_stars(r)))
        emit("%s_absolute_links_rewritten" % k, fix_absolute_links(top, files))
    emit("png_without_svg", len(set(trees["png"]) - set(trees["svg"])))
    emit("svg_without_png", len(set(trees["svg"]) - set(trees["png"])))

    # links into shapes/stars or nowhere, judged before stars is removed
    for k in ("png", "svg"):
        files, root = trees[k], roots[k]
        into_stars = dangling = 0
        for rel, path in files.items():
            if in_stars(rel) or not os.path.islink(path):
                continue
            target = link_target_rel(path, root)
            if target is None or not os.path.isfile(path):
                dangling += 1
                sys.stderr.write("dangling %s link: %s -> %s\n" % (k, rel, os.readlink(path)))
                os.unlink(path)
            elif in_stars(target):
                into_stars += 1
                sys.stderr.write("%s link into %s: %s -> %s\n" % (k, STARS, rel, os.readlink(path)))
                os.unlink(path)
        emit("%s_links_into_stars_removed" % k, into_stars)
        emit("%s_links_dangling_removed" % k, dangling)

    for k in ("png", "svg"):
        stars_dir = os.path.join(roots[k], STARS)
        if os.path.isdir(stars_dir):
            for dirpath, dirnames, filenames in os.walk(stars_dir, topdown=False):
                for name in filenames:
                    os.unlink(os.path.join(dirpath, name))
                for name in dirnames:
                    os.rmdir(os.path.join(dirpath, name))
            os.rmdir(stars_dir)

    # the kept tree
    trees = {k: walk(r, exts[k]) for k, r in roots.items()}
    png, svg = trees["png"], trees["svg"]
    emit("png_paths", len(png))
    emit("svg_paths", len(svg))
    png_links = {r for r, p in png.items() if os.path.islink(p)}
    svg_links = {r for r, p in svg.items() if os.path.islink(p)}
    emit("png_symlinks", len(png_links))
    emit("svg_symlinks", len(svg_links))
    emit("png_symlinks_to_symlinks",
         sum(1 for r in png_links
             if os.path.islink(os.path.join(os.path.dirname(png[r]), os.readlink(png[r])))))
    emit("png_links_with_svg_link", len(png_links & svg_links))
    emit("png_links_with_svg_file", len(png_links - svg_links))
    emit("svg_links_with_png_file", len(svg_links - png_links))
    emit("png_without_svg_kept", len(set(png) - set(svg)))
    emit("svg_without_png_kept", len(set(svg) - set(png)))

    big_paths = big_files = 0
    for rel, path in png.items():
        w, h = png_size(path)
        if max(w, h) > 4000:
            big_paths += 1
            if not os.path.islink(path):
                big_files += 1
    emit("png_paths_over_4000px", big_paths)
    emit("png_files_over_4000px", big_files)

    # metadata of the distinct images (symlinked PNGs are aliases of their target)
    no_title = no_subject = 0
    ntags = 0
    vocab = Counter()
    for rel, path in svg.items():
        title, tags = svg_meta(path)
        if title is None:
            no_title += 1
        if tags is None:
            no_subject += 1
            tags = []
        tags = sorted(set(t for t in tags if t))
        ntags += len(tags)
        vocab.update(tags)
    emit("svg_without_title", no_title)
    emit("svg_without_subject", no_subject)
    emit("svg_tags_mean", "%.2f" % (ntags / max(1, len(svg))))
    emit("svg_tags_distinct", len(vocab))
    emit("svg_tag_hash_paths", vocab.get("hash", 0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
