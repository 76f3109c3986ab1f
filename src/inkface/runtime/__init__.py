"""Inference runtimes: the ``Predictor`` interface every trained run is used through,
PyTorch eager and ONNX Runtime backends behind one callable, ONNX export with a parity
check and static int8 quantisation (inputs prepared by the run's own predictor)."""
