/* Step 2 of the flow: a private mount namespace of our own. */
#ifndef VGPU_NAMESPACE_H
#define VGPU_NAMESPACE_H

/* Enters a new mount namespace (with a user namespace mapping our uid and gid to
 * themselves when we are not privileged enough for a mount namespace alone) and makes
 * every mount in it private, so nothing we mount propagates to the host.  Returns 1
 * when a user namespace was made, 0 when not.  Dies with a line saying what to do. */
int namespace_enter(void);

/* Whether namespace_enter will need a user namespace (for --dry-run). */
int namespace_needs_userns(void);

#endif
