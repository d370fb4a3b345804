#!/usr/bin/env bash
# Fetches Debian's WordPress core for one Debian suite into a self-contained folder, without
# changing the system's apt state:  scripts/wp/fetch-wordpress.sh trixie build/wordpress/trixie
#   trixie   → WordPress 6.8.x (bcrypt-era, what users run today)
#   bookworm → WordPress 6.1.x
# A private apt configuration is derived from the system's own Debian sources (suite name
# replaced); the packages are downloaded and unpacked, and Debian's symlinks into
# /usr/share/{php,javascript} are resolved to copies, so each site gets a full, real copy.
set -euo pipefail
suite=${1:?suite (trixie or bookworm)}
dest=${2:?destination folder}
[ -f "$dest/wp-includes/version.php" ] && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/sources.d" "$work/lists/partial" "$work/cache/archives/partial" "$work/root"
system_suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
sed "s/\b$system_suite/$suite/g" /etc/apt/sources.list.d/debian.sources > "$work/sources.d/debian.sources"
apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/sources.d"
          -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" update -qq
case "$suite" in
    bookworm) theme=wordpress-theme-twentytwentythree ;;
    *) theme=wordpress-theme-twentytwentyfive ;;
esac
(cd "$work" && apt-get "${apt_opts[@]}" download -qq wordpress "$theme" php-getid3 \
    libjs-underscore libjs-lodash libjs-cropper)
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done

core="$work/root/usr/share/wordpress"
# Resolve every symlink: relative ones land inside the unpacked packages; absolute ones are
# looked up there first, then on the system; what resolves nowhere is dropped.
while IFS= read -r link; do
    target=$(readlink "$link")
    if [[ "$target" = /* ]]; then
        for candidate in "$work/root$target" "$target"; do
            if [ -e "$candidate" ]; then target=$candidate; break; fi
        done
    else
        target="$(dirname "$link")/$target"
    fi
    rm "$link"
    if [ -e "$target" ]; then cp -rL "$target" "$link"; fi
done < <(find "$core" -type l)
# Themes live outside the core folder in Debian's layout.
mkdir -p "$core/wp-content/themes"
cp -rL "$work/root/usr/share/wordpress/wp-content/themes/." "$core/wp-content/themes/" 2>/dev/null || true
for t in "$work"/root/var/lib/wordpress/wp-content/themes/*; do
    [ -e "$t" ] && cp -rL "$t" "$core/wp-content/themes/"
done
rm -f "$core/wp-config.php"   # Debian's loader; each site writes its own
mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
cp -a "$core" "$dest"
grep -o "wp_version = '[^']*'" "$dest/wp-includes/version.php"
