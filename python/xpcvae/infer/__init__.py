"""Posterior sampling from a model bundle with ONNX Runtime (no PyTorch): the sampler and batch inference."""
