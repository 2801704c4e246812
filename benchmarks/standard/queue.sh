#!/usr/bin/env bash
# The standard-profile queue (benchmarks/README.md): every suite still missing on real data, in order.
# Run from the repository root after `npm run build`, with the datasets in ../shared/datasets.
# Each step resumes: finished runs are skipped, an interrupted run continues from its last checkpoint.
# A failed step is reported and the queue goes on with the next one.
# OUT (default benchmarks/standard) is where runs and suite files go.
set -uo pipefail
OUT="${OUT:-benchmarks/standard}"
# DNR_CLI: the dnr-bench build to use (e.g. one built in another checkout, so that rebuilding this one
# does not change the code under a running queue)
CLI=(node "${DNR_CLI:-apps/bench/dist/cli.js}")
ML100=(--format ml100k --input ../shared/datasets/ml-100k/u.data --name ml-100k)
ML1M_DATA=(--format movielens --input ../shared/datasets/ml-1m/ratings.users-1-2999.dat.gz --name ml-1m-2999)
ML1M=("${ML1M_DATA[@]}" --config benchmarks/standard/ml-1m.json)
S=(--profile standard --out "$OUT" --jobs 2)
step() { echo "=== $(date -u +%FT%TZ) $*"; "$@" || echo "=== FAILED ($?): $*"; }
# two single runs side by side (both cores)
pair() { step "${CLI[@]}" train --config "$1" --out "$OUT/runs" & step "${CLI[@]}" train --config "$2" --out "$OUT/runs"; wait; }

R=benchmarks/standard/runfiles
# 1. ML-1M, users 1-2999 (12 epochs, patience counted from epoch 6: benchmarks/standard/ml-1m.json).
# Table 2's rows without DNR first (PRM and Pier x none/c/+/w: finished, so this step only reads them), then
# the warm-up noise choice (its seed-1 runs are compared with the default's, PRM + DNR seed 1), Table 2's DNR
# rows (PRM + DNR is main's DNR-B, shared by run id), Table 1, Tables 9 and 3, Figure 5 (reuses main's and
# beta's runs) and Table 10.
step "${CLI[@]}" suite scores "${S[@]}" "${ML1M[@]}" --only 'plain,concat score,add score,weight score'
pair $R/ml-1m-2999-prm-dnr-b-betasigned-standard-s1.json $R/ml-1m-2999-prm-dnr-b-labelbeta-standard-s1.json
step "${CLI[@]}" suite scores "${S[@]}" "${ML1M[@]}"
step "${CLI[@]}" suite main "${S[@]}" "${ML1M[@]}"
step "${CLI[@]}" suite beta "${S[@]}" "${ML1M[@]}"
step "${CLI[@]}" suite ablation "${S[@]}" "${ML1M[@]}"
step "${CLI[@]}" suite noise "${S[@]}" "${ML1M[@]}"
step "${CLI[@]}" suite larger "${S[@]}" "${ML1M[@]}"
# Figure 3 on ML-1M, reduced to DNR-G at seed 1 (6 new runs; the default point is main's DNR-G seed 1):
# 3-4.3 hours of both cores, against about 20 for both methods at 3 seeds (docs/results.md). The run file
# is ml-1m.json's with the sweep's methods cut to DNR-G (same runs as `--only prm/dnr-g`, and a report
# without DNR-B rows).
step "${CLI[@]}" suite sensitivity "${S[@]}" "${ML1M_DATA[@]}" --seeds 1 \
  --config benchmarks/standard/ml-1m-sensitivity.json
# 2. ML-100K sweeps, and the timed runs last (one at a time: nothing else may share the cores)
step "${CLI[@]}" suite sensitivity "${S[@]}" "${ML100[@]}"
# one seed: 3 timed epochs per method (the lab's Table 12 used 2 seeds)
step "${CLI[@]}" suite time --profile standard --seeds 1 --out "$OUT" "${ML100[@]}"
step "${CLI[@]}" suite time --profile standard --seeds 1 --out "$OUT" "${ML1M_DATA[@]}" # 3 epochs, not 12
