#!/usr/bin/env bash
# Stages the checkpoints of unfinished runs under benchmarks/ (checkpoint.bin and best.dnrr are
# gitignored) with their run files, so that a later session on another machine resumes them instead
# of starting over, and unstages those of runs that have finished since (their metrics.json exists).
# Run it from the repository root, with no training process running, then commit.
set -euo pipefail
shopt -s nullglob
for dir in benchmarks/*/runs/*/; do
  dir=${dir%/}
  files=()
  for f in checkpoint.bin best.dnrr; do [[ -f "$dir/$f" ]] && files+=("$dir/$f"); done
  if [[ -f "$dir/metrics.json" ]]; then
    for f in "${files[@]}"; do
      if git ls-files --error-unmatch "$f" > /dev/null 2>&1; then
        git rm --cached --quiet "$f" && echo "finished, unstaged: $f"
      fi
    done
  elif [[ ${#files[@]} -gt 0 ]]; then
    git add -f "${files[@]}" "$dir"
    [[ -f "$dir.run.json" ]] && git add "$dir.run.json"
    echo "unfinished, staged: $dir ($(du -ch "${files[@]}" | tail -1 | cut -f1))"
  fi
done
