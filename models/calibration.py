"""The decision thresholds measured for the shipped models, in one place that every layer may read: the node's
verification settings take them as defaults (edge/verify/settings.py) and device profiles as theirs
(firmware_config), so a profile is on the node's own scale without central importing the edge's internals.

Both are measurements, not properties of the files (the manifest holds only what the models require)."""

# Calibrated on LFW View 1 (all cross-identity pairs of its images) at a false-match rate of 0.1%: the Euclidean
# distance of the face model's unit-length embeddings (cosine = 1 - d^2/2); docs/calibration.md has the data, the
# command and its output. (dlib's own rule, 0.6 on raw embeddings, is not used.)
CALIBRATED_DISTANCE_THRESHOLD = 0.3748
# The fused liveness p_real below which a live frame is a presentation attack: from the BPCER/APCER measurement in
# docs/verification.md.
MEASURED_LIVENESS_THRESHOLD = 0.4
