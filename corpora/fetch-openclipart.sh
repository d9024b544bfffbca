#!/usr/bin/env bash
# Fetch Debian's openclipart-png + openclipart-svg into $CACHE/openclipart/:
#   png/<rel>.png  and  svg/<rel>.svg  (same <rel> for every image),
# without the generated shapes/stars folder, symlinks (aliases) relative.
# See corpora/README.md.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT="$CACHE/openclipart"
begin_work openclipart "$OUT/.done" "$OUT/png" "$OUT/svg"

apt_fetch "$WORK/debs" openclipart-png openclipart-svg
for pkg in openclipart-png openclipart-svg; do
    say "dpkg -x $pkg"
    dpkg -x "$(deb_path "$WORK/debs" "$pkg")" "$WORK/root" || die "dpkg -x $pkg failed"
done
rm -rf "$WORK/debs"

STAGE="$WORK/openclipart"
mkdir -p "$STAGE"
src="$WORK/root/usr/share/openclipart"
[ -d "$src/png" ] && [ -d "$src/svg" ] || die "unexpected package layout: no $src/png or $src/svg"
mv "$src/png" "$STAGE/png"
mv "$src/svg" "$STAGE/svg"
cp "$WORK/root/usr/share/doc/openclipart-png/copyright" "$STAGE/COPYRIGHT.debian" 2>/dev/null \
    || warn "no Debian copyright file found"
rm -rf "$WORK/root"

say "checking the tree, fixing symlinks, removing shapes/stars"
python3 "$CORPORA_DIR/openclipart_tree.py" "$STAGE" >"$WORK/tree.txt" \
    || die "openclipart_tree.py failed on $STAGE"
declare -A T
while IFS='=' read -r k v; do T[$k]=$v; done <"$WORK/tree.txt"
val() { [ -n "${T[$1]:-}" ] || die "openclipart_tree.py did not report $1"; echo "${T[$1]}"; }

# whole package (before dropping shapes/stars)
check_near png_paths_all "$(val png_paths_all)" 8121 2
check_near svg_paths_all "$(val svg_paths_all)" 8121 2
check_near png_paths_stars "$(val png_paths_stars)" 1378 5
record png_absolute_links_rewritten "$(val png_absolute_links_rewritten)"
record svg_absolute_links_rewritten "$(val svg_absolute_links_rewritten)"
check_eq png_without_svg "$(val png_without_svg)" 0
check_eq svg_without_png "$(val svg_without_png)" 0
# links that pointed into shapes/stars or nowhere (removed; expected none)
for k in png_links_into_stars_removed png_links_dangling_removed \
         svg_links_into_stars_removed svg_links_dangling_removed; do
    v="$(val $k)"
    record "$k" "$v"
    [ "$v" -le 20 ] || die "check failed: $k is $v (too many broken aliases)"
done
# kept tree
check_near png_paths "$(val png_paths)" 6743 2
check_near svg_paths "$(val svg_paths)" 6743 2
check_near png_symlinks "$(val png_symlinks)" 1221 5
check_near svg_symlinks "$(val svg_symlinks)" 663 10
record png_symlinks_to_symlinks "$(val png_symlinks_to_symlinks)"
record png_links_with_svg_link "$(val png_links_with_svg_link)"
record png_links_with_svg_file "$(val png_links_with_svg_file)"
record svg_links_with_png_file "$(val svg_links_with_png_file)"
check_eq png_without_svg_kept "$(val png_without_svg_kept)" 0
check_eq svg_without_png_kept "$(val svg_without_png_kept)" 0
check_near png_paths_over_4000px "$(val png_paths_over_4000px)" 19 20
record png_files_over_4000px "$(val png_files_over_4000px)"
check_eq svg_without_subject "$(val svg_without_subject)" 0
record svg_without_title "$(val svg_without_title)"
check_near svg_tags_mean "$(val svg_tags_mean)" 3.7 10
check_near svg_tags_distinct "$(val svg_tags_distinct)" 2074 10
record svg_tag_hash_paths "$(val svg_tag_hash_paths)"

# every kept symlink must resolve inside the tree
broken="$(find "$STAGE" -xtype l | wc -l)"
check_eq broken_symlinks "$broken" 0
absolute="$(find "$STAGE" -type l -lname '/*' | wc -l)"
check_eq absolute_symlinks "$absolute" 0

install_dir "$STAGE" "$OUT"
