#!/usr/bin/env bash
# The standard-profile queue (benchmarks/README.md): every suite still missing on real data, in order.
# Run from the repository root after `npm run build`, with the datasets in ../shared/datasets.
# Each line resumes: finished runs are skipped, an interrupted run continues from its last checkpoint.
# OUT (default benchmarks/standard) is where runs and suite files go.
set -euo pipefail
OUT="${OUT:-benchmarks/standard}"
CLI="node apps/bench/dist/cli.js"
ML100=(--format ml100k --input ../shared/datasets/ml-100k/u.data --name ml-100k)
ML1M=(--format movielens --input ../shared/datasets/ml-1m/ratings.users-1-2999.dat.gz --name ml-1m-2999
  --config benchmarks/standard/ml-1m.json)
S=(--profile standard --out "$OUT" --jobs 2)
$CLI suite ablation "${S[@]}" "${ML100[@]}"
$CLI suite beta "${S[@]}" "${ML100[@]}"
$CLI suite main "${S[@]}" "${ML1M[@]}"
$CLI suite scores "${S[@]}" "${ML1M[@]}"
$CLI suite ablation "${S[@]}" "${ML1M[@]}"
$CLI suite beta "${S[@]}" "${ML1M[@]}"
