"""The restoration tasks and the methods each accepts (kept free of heavy imports so the CLI starts fast).
'model' is the learned method; 'dip' is Deep Image Prior; the rest are the classical baselines."""

DENOISERS = ("bm3d", "nlm", "tv", "wavelet")
INPAINTERS = ("telea", "ns", "biharmonic")
UPSCALERS = ("bicubic", "lanczos")
DEBLURRERS = ("wiener", "rl")

METHODS = {
    "denoise": ("model", "dip", *DENOISERS),
    "inpaint": ("model", "dip", *INPAINTERS),
    "sr": ("model", *UPSCALERS),
    "deblur": ("model", *DEBLURRERS),
    "jpeg": ("model", "none"),
}
TASKS = tuple(METHODS)
