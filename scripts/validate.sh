#!/usr/bin/env bash
# Fails when any Swift file is not formatted per .swift-format, and shows the diff. Run with --fix to format.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.swift'; git ls-files --others --exclude-standard '*.swift')
if [ "${1:-}" = "--fix" ]; then
    swift format format --in-place --parallel "${files[@]}"
    exit 0
fi
status=0
diff_file=$(mktemp /tmp/decnet-format.XXXXXX)
trap 'rm -f "$diff_file"' EXIT
for file in "${files[@]}"; do
    if ! diff -u "$file" <(swift format format "$file") > "$diff_file" 2>&1; then
        echo "not formatted: $file"
        head -40 "$diff_file"
        status=1
    fi
done
[ "$status" -eq 0 ] && echo "formatting: ${#files[@]} files ok"
exit "$status"
