/* Zero OS: posix_spawn is one libzos spawn carrying the file actions (there
 * is no fork or clone to run them in a child). posix_spawnp reaches here with
 * `attr->__fn` set and libzos searches PATH. */
#include <spawn.h>
#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include "../fdop.h"

/* One file action as libzos reads it (libzos/src/linux/spawn.rs). */
struct zos_spawn_action {
	int cmd, fd, srcfd, oflag;
	unsigned mode;
	const char *path;
};

/* Returns 0 with *pid set, or an errno value. `search`: the PATH to search
 * (posix_spawnp), or null. */
int zos_posix_spawn(int *pid, const char *path, const char *search,
	const struct zos_spawn_action *actions, unsigned long count,
	char *const argv[], char *const envp[], int flags, int pgroup);

#define MAX_ACTIONS 64

int posix_spawn(pid_t *restrict res, const char *restrict path,
	const posix_spawn_file_actions_t *fa,
	const posix_spawnattr_t *restrict attr,
	char *const argv[restrict], char *const envp[restrict])
{
	struct zos_spawn_action actions[MAX_ACTIONS];
	unsigned long count = 0;
	if (fa && fa->__actions) {
		struct fdop *op;
		/* The list is kept newest first; actions run oldest first. */
		for (op = fa->__actions; op->next; op = op->next);
		for (; op; op = op->prev) {
			if (count == MAX_ACTIONS) return E2BIG;
			actions[count].cmd = op->cmd;
			actions[count].fd = op->fd;
			actions[count].srcfd = op->srcfd;
			actions[count].oflag = op->oflag;
			actions[count].mode = op->mode;
			actions[count].path = op->path;
			count++;
		}
	}
	int flags = attr ? attr->__flags : 0;
	int pgroup = attr ? attr->__pgrp : 0;
	const char *search = 0;
	if (attr && attr->__fn) {
		search = getenv("PATH");
		if (!search) search = "/usr/local/bin:/bin:/usr/bin";
	}
	int pid = 0;
	int error = zos_posix_spawn(&pid, path, search, actions, count,
		argv, envp, flags, pgroup);
	if (!error && res) *res = pid;
	return error;
}
