"""Posterior sampling from a model bundle with ONNX Runtime (no PyTorch): the sampler, batch inference
and the Python API.

This package is also the function :func:`xpcvae.infer.api.infer`: ``from xpcvae import infer`` gives
this package, and ``infer(spectra, ...)`` calls that function. (A package attribute of the same name
as a subpackage cannot be a function: importing the subpackage would replace it.)
"""

import sys
import types


class _CallableModule(types.ModuleType):
    """The package, callable as :func:`xpcvae.infer.api.infer` (imported on the first call)."""

    def __call__(self, *args, **kwargs):
        from xpcvae.infer.api import infer

        return infer(*args, **kwargs)


def __getattr__(name):
    # lazy: the API (and ONNX Runtime, the forward model) only when used
    if name == "infer":
        from xpcvae.infer.api import infer

        return infer
    if name == "__signature__":  # inspect.signature(xpcvae.infer) and help() show the function's
        import inspect

        from xpcvae.infer.api import infer

        return inspect.signature(infer)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


sys.modules[__name__].__class__ = _CallableModule
