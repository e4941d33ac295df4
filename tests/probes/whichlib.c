/* whichlib NAME_OR_PATH...: which library does this process get for each name?
 *
 * Each argument is dlopen()ed the way programs load the GPU driver (RTLD_NOW |
 * RTLD_LOCAL, by soname or by path), and one line is printed per argument:
 *
 *     NAME identity=IDENTITY file=PATH
 *
 * IDENTITY is what the library's vgpu_probe_identity() returns (the probe libraries of
 * tests/probes/probe_lib.c: shim-cuda, driver-nvml, ...), or "none" for a library
 * without it; PATH is the file the loader mapped, from the link map.  When a library
 * of that soname is already loaded (LD_PRELOAD, a DT_NEEDED), dlopen by name returns
 * it: the line then shows the preloaded file, as a real program would see it.
 *
 * Exit status 0, or 1 when any dlopen failed (a message on stderr names it).
 */
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	int status = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: whichlib NAME_OR_PATH...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		const char *name = argv[i];
		void *handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
		if (handle == NULL) {
			const char *why = dlerror();
			fprintf(stderr, "whichlib: dlopen %s failed: %s\n", name, why ? why : "unknown error");
			status = 1;
			continue;
		}

		const char *identity = "none";
		const char *(*probe)(void) = (const char *(*)(void))dlsym(handle, "vgpu_probe_identity");
		if (probe != NULL)
			identity = probe();

		/* The mapped file: the link map's name; dladdr on the probe function as a cross
		 * check (they differ only for the main program, which we never load). */
		const char *file = "?";
		struct link_map *map = NULL;
		if (dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map != NULL && map->l_name && map->l_name[0])
			file = map->l_name;
		Dl_info info;
		if (probe != NULL && dladdr((void *)probe, &info) != 0 && info.dli_fname && info.dli_fname[0])
			file = info.dli_fname;

		printf("%s identity=%s file=%s\n", name, identity, file);
		fflush(stdout);
		/* Keep it loaded: a later argument of the same soname then shows the reuse. */
	}
	return status;
}
