"""The ONNX models the product ships, with a manifest (sha256, source, licence, format, the parameters the models require)."""
