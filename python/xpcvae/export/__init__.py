"""Export of trained networks and of the forward model to an ONNX model bundle."""
