/* What an emulator entry point nobody implemented does: say its name on stderr, once
 * per process, and return the library's "not supported" code.  The stubs calling this
 * are generated (tools/gen_stubs.c) for every name in emulator/data/<lib>.exports. */
#ifndef VGPU_EMU_UNSUPPORTED_H
#define VGPU_EMU_UNSUPPORTED_H

/* *said is the caller's once-flag; returns code. */
int emu_unsupported(int *said, const char *name, int code);

#endif
