#!/usr/bin/env bash
# Prints the path of a working Python 3.10 interpreter, or explains how to get one.
# Rasa 3.6 supports Python 3.8-3.10 only; the application env uses the same version.
set -u
candidates=("${PYTHON310:-}" "$(command -v python3.10 2>/dev/null)")
if command -v pyenv >/dev/null 2>&1; then
  for p in "$(pyenv root)"/versions/3.10.*/bin/python3.10; do candidates+=("$p"); done
fi
for p in /usr/bin/python3.10 /usr/local/bin/python3.10 "$HOME"/.pyenv/versions/3.10.*/bin/python3.10; do
  candidates+=("$p")
done
for p in "${candidates[@]}"; do
  [ -n "$p" ] && [ -x "$p" ] || continue
  if "$p" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
    echo "$p"
    exit 0
  fi
done
cat >&2 <<'MSG'
Python 3.10 was not found (Rasa 3.6 needs Python 3.8-3.10).
Install it, then re-run make, for example:
  pyenv install 3.10.13            # with pyenv
  apt-get install python3.10-venv  # on a Debian/Ubuntu release that ships it
or point PYTHON310=/path/to/python3.10 at an existing interpreter.
MSG
exit 1
