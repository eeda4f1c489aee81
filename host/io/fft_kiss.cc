// The log-mel's 512-point real FFT magnitude: KissFFT's header-only C++ template in double (Debian's C library is float only).
#include "io/fft_kiss.h"

#include <cmath>
#include <complex>

#include <kissfft/kissfft.hh>

int io_fft512_magnitude(const double *x, double *mag)
{
    try {
        // A real transform of 512 points is a complex one of 256 = 4^4: only
        // radix-4 stages, which never touch the object's mutable scratch
        // buffer, so one shared const instance is safe from every thread (its
        // initialisation is, by C++11 rules).
        static const kissfft<double> fft(256, false);
        std::complex<double> out[256];
        fft.transform_real(x, out);
        // transform_real packs the real DC and Nyquist bins into out[0]
        mag[0] = std::fabs(out[0].real());
        mag[256] = std::fabs(out[0].imag());
        for (int k = 1; k < 256; k++)
            mag[k] = std::abs(out[k]);
        return 0;
    } catch (...) {
        return -1;
    }
}
