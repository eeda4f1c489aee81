/* The log-mel's 512-point real FFT magnitude (KissFFT's C++ template in double), callable from C. */
#ifndef CASPNET_FFT_KISS_H
#define CASPNET_FFT_KISS_H

#ifdef __cplusplus
extern "C" {
#endif

/* mag[k] = |sum_n x[n] e^{-2 pi i k n / 512}| for k = 0..256 (x: 512 reals).
 * Thread-safe. Returns 0, or -1 when the one-time twiddle table cannot be
 * allocated (the caller reports it; no C++ exception leaves this function). */
int io_fft512_magnitude(const double *x, double *mag);

#ifdef __cplusplus
}
#endif
#endif
