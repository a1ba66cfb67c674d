/*
 * cgroup_match: --cgroup, --container and --pod against /proc/PID/cgroup
 * texts as the kernel writes them under each container runtime and cgroup
 * driver (synthetic lines; tests/integration/test_node.py runs the same
 * selection against real cgroups and Docker containers).
 */
#include "cgroup_match.h"

#include "unit.h"

/* Two container ids that share their first 12 digits, as a prefix test
 * needs; and two pod UIDs. */
#define ID_A "4f3c2b1a09e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29180706f5e4d3c2b1a09"
#define ID_B "4f3c2b1a09e8aaaab5a4f3e2d1c0b9a8f7e6d5c4b3a29180706f5e4d3c2b1a09"
#define UID_A "0b5d8f6e-2c1a-4e3b-9f7d-6a5c4b3e2d1f"
#define UID_A_ "0b5d8f6e_2c1a_4e3b_9f7d_6a5c4b3e2d1f"
#define UID_B "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"

static struct cgroup_sel sel_of(enum cgroup_sel_kind kind, const char *text)
{
    struct cgroup_sel s;
    char why[256];
    if (!cgroup_sel_parse(kind, text, &s, why, sizeof why)) {
        printf("  cannot parse '%s': %s\n", text, why);
        s.kind = (enum cgroup_sel_kind)-1;
    }
    return s;
}

static bool matches(enum cgroup_sel_kind kind, const char *sel_text, const char *proc)
{
    struct cgroup_sel s = sel_of(kind, sel_text);
    return cgroup_sel_match_proc(&s, proc, NULL, 0, NULL);
}

/* Docker with the cgroupfs driver on cgroup v1 (this machine's layout):
 * every controller's line holds /docker/ID. */
static const char V1_DOCKER_CGROUPFS[] = "12:pids:/docker/" ID_A "\n"
                                         "4:memory:/docker/" ID_A "\n"
                                         "1:name=systemd:/docker/" ID_A "\n"
                                         "0::/\n";
/* Docker with the systemd driver, v1 and v2, and a child cgroup the
 * container made (systemd inside it, or a nested runtime). */
static const char V1_DOCKER_SYSTEMD[] = "4:memory:/system.slice/docker-" ID_A ".scope\n"
                                        "1:name=systemd:/system.slice/docker-" ID_A ".scope\n";
static const char V2_DOCKER_SYSTEMD_CHILD[] = "0::/system.slice/docker-" ID_A ".scope/init.scope\n";
/* Kubernetes: containerd under the kubelet's systemd driver (v2), and
 * under its cgroupfs driver (v1), a guaranteed pod (no QoS level). */
static const char V2_K8S_SYSTEMD[] =
    "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_A_
    ".slice/cri-containerd-" ID_A ".scope\n";
static const char V1_K8S_CGROUPFS[] = "11:cpu,cpuacct:/kubepods/burstable/pod" UID_A "/" ID_A "\n"
                                      "5:memory:/kubepods/burstable/pod" UID_A "/" ID_A "\n";
static const char V1_K8S_GUARANTEED[] = "5:memory:/kubepods/pod" UID_A "/" ID_A "\n";
/* CRI-O: the container's scope, and its monitor's beside it. */
static const char V2_CRIO[] = "0::/kubepods.slice/kubepods-besteffort.slice/"
                              "kubepods-besteffort-pod" UID_A_ ".slice/crio-" ID_A ".scope\n";
static const char V2_CRIO_CONMON[] = "0::/kubepods.slice/kubepods-besteffort.slice/"
                                     "kubepods-besteffort-pod" UID_A_
                                     ".slice/crio-conmon-" ID_A ".scope\n";
/* Podman rootless: the container's processes in a child named container. */
static const char V2_PODMAN[] = "0::/user.slice/user-1000.slice/user@1000.service/user.slice/"
                                "libpod-" ID_A ".scope/container\n";
/* Seen from a DaemonSet pod with a cgroup namespace of its own. */
static const char V2_FROM_CGROUPNS[] = "0::/../../kubepods-besteffort-pod" UID_A_
                                       ".slice/cri-containerd-" ID_A ".scope\n";

TEST(container_every_runtime_and_driver)
{
    const char *forms[] = {V1_DOCKER_CGROUPFS, V1_DOCKER_SYSTEMD, V2_DOCKER_SYSTEMD_CHILD,
                           V2_K8S_SYSTEMD,     V1_K8S_CGROUPFS,   V1_K8S_GUARANTEED,
                           V2_CRIO,            V2_PODMAN,         V2_FROM_CGROUPNS};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        CHECK(matches(CGROUP_SEL_CONTAINER, ID_A, forms[i]));
        CHECK(matches(CGROUP_SEL_CONTAINER, "containerd://" ID_A, forms[i]));
        CHECK(matches(CGROUP_SEL_CONTAINER, "4f3c2b1a09e8d7", forms[i]));
        CHECK(!matches(CGROUP_SEL_CONTAINER, ID_B, forms[i]));
    }
}

TEST(container_prefix_and_full_id)
{
    struct cgroup_sel s = sel_of(CGROUP_SEL_CONTAINER, "4F3C2B1A09E8");
    char id[CGROUP_ID_DIGITS + 1] = "", path[256] = "";
    /* A 12-digit prefix takes both containers; the full id found is
     * returned, so that the caller can tell them apart. */
    CHECK(cgroup_sel_match_proc(&s, V1_DOCKER_CGROUPFS, path, sizeof path, id));
    CHECK_STR(id, ID_A);
    CHECK_STR(path, "/docker/" ID_A);
    CHECK(cgroup_sel_match_proc(&s, "4:memory:/docker/" ID_B "\n", NULL, 0, id));
    CHECK_STR(id, ID_B);
    /* The digits must start the id, not lie inside it. */
    CHECK(!matches(CGROUP_SEL_CONTAINER, "2b1a09e8d7c6", V1_DOCKER_CGROUPFS));
    /* Only a whole 64-digit id counts: not a shorter hex component, not
     * one glued to a word. */
    CHECK(!matches(CGROUP_SEL_CONTAINER, "4f3c2b1a09e8", "0::/docker/4f3c2b1a09e8d7c6\n"));
    CHECK(!matches(CGROUP_SEL_CONTAINER, ID_A, "0::/system.slice/docker" ID_A ".scope\n"));
    CHECK(!matches(CGROUP_SEL_CONTAINER, ID_A, "0::/docker/" ID_A "0\n"));
}

TEST(container_monitor_is_not_the_container)
{
    CHECK(!matches(CGROUP_SEL_CONTAINER, ID_A, V2_CRIO_CONMON));
    CHECK(!matches(CGROUP_SEL_CONTAINER, ID_A,
                   "0::/machine.slice/libpod-conmon-" ID_A ".scope\n"));
}

TEST(pod_uid_both_spellings)
{
    /* Given with dashes or underscores, upper or lower case, or as 32
     * digits: the same pod, in the cgroupfs driver's pod<UID> and the
     * systemd driver's -pod<UID_>.slice. */
    const char *sels[] = {UID_A, UID_A_, "0B5D8F6E-2C1A-4E3B-9F7D-6A5C4B3E2D1F",
                          "0b5d8f6e2c1a4e3b9f7d6a5c4b3e2d1f"};
    const char *forms[] = {V2_K8S_SYSTEMD, V1_K8S_CGROUPFS, V1_K8S_GUARANTEED, V2_CRIO,
                           V2_CRIO_CONMON, V2_FROM_CGROUPNS};
    for (size_t i = 0; i < sizeof sels / sizeof sels[0]; i++)
        for (size_t j = 0; j < sizeof forms / sizeof forms[0]; j++) {
            CHECK(matches(CGROUP_SEL_POD, sels[i], forms[j]));
            CHECK(!matches(CGROUP_SEL_POD, UID_B, forms[j]));
        }
    /* A static pod's UID, 32 digits, as the kubelet writes it. */
    CHECK(matches(CGROUP_SEL_POD, "6d4b3e9bf6a2f7f9b8e8c8f3c1b0a2d1",
                  "0::/kubepods.slice/kubepods-pod6d4b3e9bf6a2f7f9b8e8c8f3c1b0a2d1.slice/x\n"));
    /* Not a pod: the container outside any pod, "pod" inside a word, a
     * UID with a digit more. */
    CHECK(!matches(CGROUP_SEL_POD, UID_A, V1_DOCKER_CGROUPFS));
    CHECK(!matches(CGROUP_SEL_POD, UID_A, "0::/kubepods/xpod" UID_A "/" ID_A "\n"));
    CHECK(!matches(CGROUP_SEL_POD, UID_A, "0::/kubepods/pod" UID_A "0/" ID_A "\n"));
    CHECK(!matches(CGROUP_SEL_POD, UID_A, "0::/kubepods/burstable\n"));
}

TEST(path_itself_and_below)
{
    const char *proc = "4:memory:/kubepods/burstable/pod" UID_A "/" ID_A "\n0::/\n";
    struct cgroup_sel s = sel_of(CGROUP_SEL_PATH, "/kubepods/burstable/");
    char path[512];
    CHECK(cgroup_sel_match_proc(&s, proc, path, sizeof path, NULL));
    CHECK_STR(path, "/kubepods/burstable/pod" UID_A "/" ID_A);
    CHECK(matches(CGROUP_SEL_PATH, "/kubepods/burstable/pod" UID_A "/" ID_A, proc));
    CHECK(matches(CGROUP_SEL_PATH, "/kubepods", proc));
    /* Whole components: a sibling whose name begins the same is not
     * below; neither is the parent of the path given. */
    CHECK(!matches(CGROUP_SEL_PATH, "/kubepods/burst", proc));
    CHECK(!matches(CGROUP_SEL_PATH, "/kubepods/burstable/pod" UID_A "/" ID_A "/init", proc));
    CHECK(!matches(CGROUP_SEL_PATH, "/docker", proc));
    /* Any hierarchy's line: v1 with the memory controller's alone (as on
     * a machine whose other controllers leave everyone at the root). */
    CHECK(matches(CGROUP_SEL_PATH, "/process_api/930bf",
                  "9:name=systemd:/\n4:memory:/process_api/930bf/t1\n0::/\n"));
    /* A path holding a colon. */
    CHECK(matches(CGROUP_SEL_PATH, "/a:b", "0::/a:b/c\n"));
    /* Truncated line paths are cut, never overrun. */
    char tiny[8];
    CHECK(cgroup_sel_match_proc(&s, proc, tiny, sizeof tiny, NULL));
    CHECK_STR(tiny, "/kubepo");
}

TEST(malformed_proc_text)
{
    struct cgroup_sel s = sel_of(CGROUP_SEL_PATH, "/a");
    CHECK(!cgroup_sel_match_proc(&s, "", NULL, 0, NULL));
    CHECK(!cgroup_sel_match_proc(&s, "no colons at all\n", NULL, 0, NULL));
    CHECK(!cgroup_sel_match_proc(&s, "0:/a\n", NULL, 0, NULL));
    CHECK(!cgroup_sel_match_proc(&s, "0::a/b\n", NULL, 0, NULL));
    CHECK(cgroup_sel_match_proc(&s, "garbage\n0::/a", NULL, 0, NULL)); /* no final newline */
}

TEST(parse_rules)
{
    struct cgroup_sel s;
    char why[256];
    CHECK(cgroup_sel_parse(CGROUP_SEL_CONTAINER, "docker://" ID_A, &s, why, sizeof why));
    CHECK(s.ndigits == 64);
    CHECK(cgroup_sel_parse(CGROUP_SEL_CONTAINER, "cri-o://4f3c2b1a09e8", &s, why, sizeof why));
    CHECK_STR(s.digits, "4f3c2b1a09e8");
    CHECK(!cgroup_sel_parse(CGROUP_SEL_CONTAINER, "4f3c2b1a09e", &s, why, sizeof why));
    CHECK(strstr(why, "at least 12") != NULL);
    CHECK(!cgroup_sel_parse(CGROUP_SEL_CONTAINER, ID_A "0", &s, why, sizeof why));
    CHECK(!cgroup_sel_parse(CGROUP_SEL_CONTAINER, "://4f3c2b1a09e8", &s, why, sizeof why));
    CHECK(!cgroup_sel_parse(CGROUP_SEL_POD, "0b5d8f6e-2c1a4e3b-9f7d-6a5c4b3e2d1f-", &s, why,
                            sizeof why));
    CHECK(!cgroup_sel_parse(CGROUP_SEL_POD, "0b5d8f6e+2c1a+4e3b+9f7d+6a5c4b3e2d1f", &s, why,
                            sizeof why));
    CHECK(cgroup_sel_parse(CGROUP_SEL_PATH, "/a/b//", &s, why, sizeof why));
    CHECK(s.path_len == 4);
    CHECK(!cgroup_sel_parse(CGROUP_SEL_PATH, "/", &s, why, sizeof why));
    CHECK(!cgroup_sel_parse(CGROUP_SEL_PATH, "a/b", &s, why, sizeof why));
    CHECK_STR(cgroup_sel_name(CGROUP_SEL_POD), "pod");
}

UNIT_MAIN(UNIT_CASE(container_every_runtime_and_driver), UNIT_CASE(container_prefix_and_full_id),
          UNIT_CASE(container_monitor_is_not_the_container), UNIT_CASE(pod_uid_both_spellings),
          UNIT_CASE(path_itself_and_below), UNIT_CASE(malformed_proc_text),
          UNIT_CASE(parse_rules))
