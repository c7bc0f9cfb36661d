#!/usr/bin/env bash
# Create .venv-extract: the separate environment for `dancemuse dataset extract`.
#
# MediaPipe 0.10.21 is the newest release that ships its pose models inside the wheel
# (newer ones download them at run time and fail offline), and it pins protobuf<5 while
# onnx needs protobuf>=6: the two cannot share one environment. The extract command runs
# model/importers/video_worker.py under this venv's python (it needs only mediapipe, numpy
# and OpenCV) and turns the poses it writes into a dataset in the main environment.
#
# Usage: bash .ci/extract_venv.sh [VENV_DIR]   (default .venv-extract at the repo root)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv-extract}"
py="${PYTHON:-python3}"
start=$(date +%s)
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q "mediapipe==0.10.21" "numpy<2"
"$venv/bin/python" -c "import mediapipe as mp; mp.solutions.pose.Pose(model_complexity=1).close(); print('extract venv ok: mediapipe', mp.__version__)"
echo "extract venv ready in $(( $(date +%s) - start )) s: $venv"
