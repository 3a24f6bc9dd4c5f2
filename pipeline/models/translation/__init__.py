"""Image-to-image translation: pix2pix, CycleGAN, super-resolution and inpainting models.

Their networks (a generator that maps an image to an image, a discriminator
that scores an image, optionally beside the image it came from) are in
`pipeline.models.translation.networks`.
"""
