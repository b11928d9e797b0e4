"""``xpcvae verify``: can an exported model bundle be trusted? (docs/verify.md)

One module per group of checks, each returning :class:`~xpcvae.verify.report.Check` lines (a name,
pass / fail / not run, the measured figure): :mod:`.manifest` (schema, checksums, the loaders),
:mod:`.graphs` (onnx.checker, opset, inputs and outputs), :mod:`.torch_parity` (ONNX Runtime against
PyTorch, with the run), :mod:`.java_parity` (Python against Java draws), :mod:`.forward` (the
``forward_model`` graph against the Python forward model), :mod:`.recovery` (posteriors of simulated
spectra near their truth). :func:`xpcvae.verify.suite.verify_bundle` runs them all.
"""
