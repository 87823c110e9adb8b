"""A convolution's spectrum and singular values: the public home of `ops.spectral`.

`from keras_procrustes import spectral` (or `keras_procrustes.spectral.X`)
is how users reach the spectral math; the code lives with the other
backend-neutral math in `keras_procrustes.ops`.
"""

from keras_procrustes.ops.spectral import __all__  # noqa: F401
from keras_procrustes.ops.spectral import as_conv2d  # noqa: F401
from keras_procrustes.ops.spectral import check_fft_shape  # noqa: F401
from keras_procrustes.ops.spectral import check_kernel  # noqa: F401
from keras_procrustes.ops.spectral import conv_singular_values  # noqa: F401
from keras_procrustes.ops.spectral import kernel_from_spectrum  # noqa: F401
from keras_procrustes.ops.spectral import kernel_spectrum  # noqa: F401
