/*
 * A stand-in for Windows' bcryptprimitives.dll, for Wine older than 8.13.
 *
 * Rust's standard library (1.78 and later) gets its random bytes from
 * ProcessPrng in bcryptprimitives.dll, which Wine added only in 8.13: on
 * Debian 12's Wine 8.0 every test binary fails to start without it. This
 * DLL has that one function, and fills the buffer from RtlGenRandom
 * (advapi32's SystemFunction036), which every Wine has. ci/wine.sh builds
 * it with mingw and copies it into the Wine prefix it runs the suite in.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    /* RtlGenRandom takes a ULONG: fill a larger buffer in pieces. */
    while (length > 0) {
        ULONG piece = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, piece))
            return FALSE;
        data += piece;
        length -= piece;
    }
    return TRUE;
}
