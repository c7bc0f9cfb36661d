"""Pose extraction worker for `dancemuse dataset extract`.

Runs under the python of the extract environment (`bash .ci/extract_venv.sh` makes
.venv-extract with mediapipe 0.10.21, numpy<2 and OpenCV) and imports nothing from
DanceMuse, because MediaPipe's protobuf pin cannot live beside onnx. Only
``model_complexity=1`` is used: it is the one pose model the wheel ships (0 and 2 are
downloaded at run time and fail offline).

    python video_worker.py VIDEO OUT.npz [--overlay OUT.mp4]

OUT.npz holds, for n video frames: ``world`` [n, 33, 3] float32 MediaPipe world landmarks
(metres, origin between the hips, x image-right, y down, z away from the camera),
``image`` [n, 33, 3] normalised image landmarks, ``visibility`` [n, 33], ``present`` [n]
bool (a person was found), ``fps``, ``width``, ``height``. Progress goes to stderr as
``progress I N`` lines, a failure as one ``error: MESSAGE`` line and exit status 3.
"""

import argparse
import os
import sys

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# COCO-17 in MediaPipe's 33-landmark numbering, and the bones drawn on the overlay.
MP_TO_COCO = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
BONES = ((5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16),
         (5, 6), (11, 12), (5, 11), (6, 12), (0, 1), (0, 2), (1, 3), (2, 4))


def fail(msg):
    print("error: " + msg, file=sys.stderr, flush=True)
    sys.exit(3)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video")
    ap.add_argument("out")
    ap.add_argument("--overlay")
    args = ap.parse_args(argv)

    import cv2
    import mediapipe as mp
    import numpy as np

    cap = cv2.VideoCapture(args.video)
    if not cap.isOpened():
        fail(f"cannot open {args.video} as a video; convert it to MP4 (H.264)")
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    if not 1.0 <= fps <= 480.0:
        fps = 30.0
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    writer = None
    if args.overlay:
        writer = cv2.VideoWriter(args.overlay, cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        if not writer.isOpened():
            fail(f"cannot write the overlay video {args.overlay}")

    world, image, vis, present = [], [], [], []
    zeros = np.zeros((33, 3), np.float32)
    pose = mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1,
                                  smooth_landmarks=True, min_detection_confidence=0.5,
                                  min_tracking_confidence=0.5)
    i = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        res = pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        if res.pose_world_landmarks is not None and res.pose_landmarks is not None:
            w = res.pose_world_landmarks.landmark
            m = res.pose_landmarks.landmark
            world.append(np.array([(p.x, p.y, p.z) for p in w], np.float32))
            image.append(np.array([(p.x, p.y, p.z) for p in m], np.float32))
            vis.append(np.array([p.visibility for p in m], np.float32))
            present.append(True)
        else:
            world.append(zeros)
            image.append(zeros)
            vis.append(np.zeros(33, np.float32))
            present.append(False)
        if writer is not None:
            draw(cv2, frame, image[-1], vis[-1], present[-1], i, fps)
            writer.write(frame)
        i += 1
        if i % 5 == 0:
            print(f"progress {i} {max(total, i)}", file=sys.stderr, flush=True)
    pose.close()
    cap.release()
    if writer is not None:
        writer.release()
    if i == 0:
        fail(f"{args.video} holds no readable video frames")
    if i % 5 or total != i:
        print(f"progress {i} {i}", file=sys.stderr, flush=True)
    tmp = args.out + ".part.npz"
    np.savez(tmp, world=np.stack(world), image=np.stack(image), visibility=np.stack(vis),
             present=np.array(present, bool), fps=np.float64(fps), width=np.int64(width),
             height=np.int64(height))
    os.replace(tmp, args.out)


def draw(cv2, frame, image, vis, present, index, fps):
    h, w = frame.shape[:2]
    if present:
        pts = [(int(image[j][0] * w), int(image[j][1] * h)) for j in MP_TO_COCO]
        conf = [float(vis[j]) for j in MP_TO_COCO]
        for a, b in BONES:
            c = min(conf[a], conf[b])
            cv2.line(frame, pts[a], pts[b], (0, int(255 * c), int(255 * (1 - c))), 3, cv2.LINE_AA)
        for p, c in zip(pts, conf):
            cv2.circle(frame, p, 4, (255, 255, 255) if c > 0.5 else (0, 0, 255), -1, cv2.LINE_AA)
    label = f"t={index / fps:.2f}s {'pose' if present else 'no person'}"
    cv2.putText(frame, label, (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 0), 2, cv2.LINE_AA)


if __name__ == "__main__":
    main()
