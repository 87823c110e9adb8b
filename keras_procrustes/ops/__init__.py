"""The backend-neutral math floor: `keras.ops` (and NumPy for checks on concrete values), imported by everything above it.

- `spectral`: a convolution's per-frequency transfer matrices (the 2-D FFT
  of the padded kernel) and its singular values (Sedghi et al., ICLR 2019);
  users reach it as `keras_procrustes.spectral`.
- `polar`: the polar factor of a batch of matrices, by SVD or Newton-Schulz
  (the orthogonal Procrustes solution).
- `projection`: a kernel projected onto the nearest norm-preserving
  convolution (the paper's projection; `spectral` and `polar` together).
- `draw`: when a projection runs: the optimizer's step counter and the
  draw, the same on every replica, that decides each step.
- `autodiff`: gradients with respect to tensors, the one place that
  dispatches to each backend's own autodiff.

Imports go one way: `spectral` and `polar` import only the package's
argument rules (`checks`), `projection` imports them, `draw` and `autodiff`
stand alone.
"""
