/* sandbox: runs a command under the parts of jobsd.service's sandbox that
 * need no service manager, to show that jobsd still works under them.
 *
 *   sandbox -- COMMAND [ARGS...]   NoNewPrivileges=yes and
 *                                  MemoryDenyWriteExecute=yes, then exec
 *   sandbox --try-wx               tries a writable and executable mapping:
 *                                  exits 0 if it is refused, 1 if not
 *
 * MemoryDenyWriteExecute= is the kernel's PR_SET_MDWE here (Linux 6.3 and
 * later; systemd uses it too where it can): it survives execve(), so
 * `sandbox -- sandbox --try-wx` shows it bites. Exits 77 when the kernel
 * has no PR_SET_MDWE or a container's filter refuses it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#endif
#ifndef PR_MDWE_REFUSE_EXEC_GAIN
#define PR_MDWE_REFUSE_EXEC_GAIN 1
#endif

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--try-wx") == 0) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
        if (p == MAP_FAILED) {
            printf("refused: %s\n", strerror(errno));
            return 0;
        }
        printf("allowed\n");
        munmap(p, 4096);
        return 1;
    }
    if (argc < 3 || strcmp(argv[1], "--") != 0) {
        fprintf(stderr, "usage: sandbox -- COMMAND [ARGS...] | sandbox --try-wx\n");
        return 2;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        fprintf(stderr, "sandbox: PR_SET_NO_NEW_PRIVS: %s\n", strerror(errno));
        return 1;
    }
    if (prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) < 0) {
        fprintf(stderr, "sandbox: PR_SET_MDWE: %s\n", strerror(errno));
        return 77;
    }
    execvp(argv[2], argv + 2);
    fprintf(stderr, "sandbox: cannot run %s: %s\n", argv[2], strerror(errno));
    return 127;
}
