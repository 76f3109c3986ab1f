"""Inference runtimes: PyTorch eager or ONNX Runtime behind one callable interface."""
