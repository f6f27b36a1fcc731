"""What the CLI, the HTTP API and the web page all call, one module per job:

- ``denoise``, ``inpaint``, ``sr`` (super_resolve), ``deblur``, ``jpeg`` (remove_jpeg_artifacts): the five tasks
  on (C,H,W) tensors; ``methods``: the tasks, their methods and default models; ``prior``: plug-and-play with a
  learned denoiser; ``tiling``: models on images of any size;
- ``restore``: options and images with alpha and masks; ``files``: files and folders; ``store``: loaded models;
- ``generate``, ``degrade``, ``demo``.

Import from the module (``from pixelsmith.pipelines.denoise import denoise``); nothing is imported here, so the
CLI starts fast."""
