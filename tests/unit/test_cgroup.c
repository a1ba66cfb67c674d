/*
 * Unit tests for the pure parsers of cgroup.c: /proc/PID/cgroup, mountinfo
 * lines, the mapping of a cgroup path to a directory under a mount, and
 * the memory files (limit, usage, keyed counters). Texts are as the
 * kernel writes them, cgroup v1 and v2.
 */
#include <stdint.h>

#include "cgroup.h"
#include "unit.h"

TEST(proc_v1_memory_line)
{
    char path[256];
    enum cgroup_version v = 0;
    CHECK(cgroup_parse_proc("9:name=systemd:/\n8:pids:/\n4:memory:/kubepods/pod1/c1\n"
                            "2:cpu,cpuacct:/\n0::/\n",
                            path, sizeof path, &v) == 0);
    CHECK_STR(path, "/kubepods/pod1/c1");
    CHECK(v == CGROUP_V1);
    /* memory among other controllers of one hierarchy; a colon in the path */
    CHECK(cgroup_parse_proc("3:cpu,memory:/a:b\n", path, sizeof path, &v) == 0);
    CHECK_STR(path, "/a:b");
    CHECK(v == CGROUP_V1);
    /* the v1 line wins over the v2 one, whatever the order */
    CHECK(cgroup_parse_proc("0::/unified\n4:memory:/v1\n", path, sizeof path, &v) == 0);
    CHECK_STR(path, "/v1");
}

TEST(proc_v2_line)
{
    char path[256];
    enum cgroup_version v = 0;
    CHECK(cgroup_parse_proc("0::/kubepods.slice/cri-containerd-1.scope", path, sizeof path, &v) ==
          0);
    CHECK_STR(path, "/kubepods.slice/cri-containerd-1.scope");
    CHECK(v == CGROUP_V2);
    /* in another cgroup namespace: relative to ours */
    CHECK(cgroup_parse_proc("0::/../sibling\n", path, sizeof path, &v) == 0);
    CHECK_STR(path, "/../sibling");
}

TEST(proc_without_memory)
{
    char path[256];
    enum cgroup_version v = 0;
    CHECK(cgroup_parse_proc("", path, sizeof path, &v) < 0);
    CHECK(cgroup_parse_proc("4:memoryx:/a\n5:cpu:/b\n", path, sizeof path, &v) < 0);
    CHECK(cgroup_parse_proc("garbage\n1:\n", path, sizeof path, &v) < 0);
    /* a v2 line with a controller list is not the unified one */
    CHECK(cgroup_parse_proc("0:memory\n", path, sizeof path, &v) < 0);
    char small[4];
    CHECK(cgroup_parse_proc("4:memory:/abcdef\n", small, sizeof small, &v) < 0);
}

TEST(mountinfo_lines)
{
    char root[256], point[256];
    const char *v1 = "35 31 0:32 / /sys/fs/cgroup/memory rw,nosuid,relatime shared:12 - cgroup "
                     "cgroup rw,memory\n";
    CHECK(cgroup_parse_mountinfo_line(v1, CGROUP_V1, root, sizeof root, point, sizeof point));
    CHECK_STR(root, "/");
    CHECK_STR(point, "/sys/fs/cgroup/memory");
    CHECK(!cgroup_parse_mountinfo_line(v1, CGROUP_V2, root, sizeof root, point, sizeof point));

    const char *v2 = "41 31 0:38 /../../x /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw,nsdelegate";
    CHECK(cgroup_parse_mountinfo_line(v2, CGROUP_V2, root, sizeof root, point, sizeof point));
    CHECK_STR(root, "/../../x");
    CHECK_STR(point, "/sys/fs/cgroup");
    CHECK(!cgroup_parse_mountinfo_line(v2, CGROUP_V1, root, sizeof root, point, sizeof point));

    /* a v1 hierarchy without the memory controller; other filesystems */
    CHECK(!cgroup_parse_mountinfo_line("32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup "
                                       "rw,cpu,cpuacct", CGROUP_V1, root, sizeof root, point,
                                       sizeof point));
    CHECK(!cgroup_parse_mountinfo_line("23 1 8:1 / / rw - ext4 /dev/sda1 rw", CGROUP_V1, root,
                                       sizeof root, point, sizeof point));
    CHECK(!cgroup_parse_mountinfo_line("truncated line", CGROUP_V2, root, sizeof root, point,
                                       sizeof point));
    /* names shown with octal escapes */
    CHECK(cgroup_parse_mountinfo_line("50 48 0:32 /a\\040b /mnt/my\\040cg rw master:3 - cgroup "
                                      "cg rw,memory,nosuid", CGROUP_V1, root, sizeof root, point,
                                      sizeof point));
    CHECK_STR(root, "/a b");
    CHECK_STR(point, "/mnt/my cg");
    char tiny[4];
    CHECK(!cgroup_parse_mountinfo_line(v1, CGROUP_V1, root, sizeof root, tiny, sizeof tiny));
}

TEST(dir_under_mounts)
{
    char dir[128];
    CHECK(cgroup_dir_under("", "/", "/sys/fs/cgroup/memory", "/kubepods/c1", dir, sizeof dir) == 0);
    CHECK_STR(dir, "/sys/fs/cgroup/memory/kubepods/c1");
    CHECK(cgroup_dir_under("", "/kubepods", "/sys/fs/cgroup", "/kubepods/c1", dir, sizeof dir) == 0);
    CHECK_STR(dir, "/sys/fs/cgroup/c1");
    CHECK(cgroup_dir_under("", "/kubepods", "/sys/fs/cgroup", "/kubepods", dir, sizeof dir) == 0);
    CHECK_STR(dir, "/sys/fs/cgroup");
    /* through the target's root, mount rooted at its own cgroup */
    CHECK(cgroup_dir_under("/proc/42/root", "/../c2", "/sys/fs/cgroup", "/../c2", dir,
                           sizeof dir) == 0);
    CHECK_STR(dir, "/proc/42/root/sys/fs/cgroup");
    CHECK(cgroup_dir_under("", "/", "/", "/a", dir, sizeof dir) == 0);
    CHECK_STR(dir, "/a");
    /* not under the root, or leaving the mount */
    CHECK(cgroup_dir_under("", "/kubepods", "/m", "/kubepodsX/c1", dir, sizeof dir) < 0);
    CHECK(cgroup_dir_under("", "/kubepods", "/m", "/other", dir, sizeof dir) < 0);
    CHECK(cgroup_dir_under("", "/", "/m", "/../c2", dir, sizeof dir) < 0);
    CHECK(cgroup_dir_under("", "/a", "/m", "/a/b/../../c", dir, sizeof dir) < 0);
    CHECK(cgroup_dir_under("", "/", "/m", "/a..b/..c", dir, sizeof dir) == 0);
    CHECK_STR(dir, "/m/a..b/..c");
    char small[8];
    CHECK(cgroup_dir_under("", "/", "/sys/fs/cgroup", "/a", small, sizeof small) < 0);
}

TEST(limits_and_numbers)
{
    uint64_t v = 0;
    CHECK(cgroup_parse_limit("max\n", &v) == 0);
    CHECK(v == CGROUP_NO_LIMIT);
    CHECK(cgroup_parse_limit("67108864\n", &v) == 0);
    CHECK_U64(v, 67108864);
    CHECK(cgroup_parse_limit("9223372036854771712\n", &v) == 0); /* v1 "unlimited" */
    CHECK(v == CGROUP_NO_LIMIT);
    CHECK(cgroup_parse_limit("", &v) < 0);
    CHECK(cgroup_parse_limit("maximum\n", &v) < 0);
    CHECK(cgroup_parse_limit("12k\n", &v) < 0);
    CHECK(cgroup_parse_limit("-1\n", &v) < 0);
    CHECK(cgroup_parse_number("4591616\n", &v) == 0);
    CHECK_U64(v, 4591616);
    CHECK(cgroup_parse_number("18446744073709551615", &v) == 0);
    CHECK(v == UINT64_MAX);
    CHECK(cgroup_parse_number("18446744073709551616", &v) < 0);
    CHECK(cgroup_parse_number("12 13\n", &v) < 0);
}

TEST(keyed_counters)
{
    uint64_t v = 0;
    const char *events = "low 0\nhigh 0\nmax 17\noom 2\noom_kill 1\noom_group_kill 0\n";
    CHECK(cgroup_parse_key(events, "oom_kill", &v) == 0);
    CHECK_U64(v, 1);
    CHECK(cgroup_parse_key(events, "oom", &v) == 0);
    CHECK_U64(v, 2);
    const char *control = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
    CHECK(cgroup_parse_key(control, "oom_kill", &v) == 0);
    CHECK_U64(v, 3);
    /* before 4.13 there is no counter */
    CHECK(cgroup_parse_key("oom_kill_disable 0\nunder_oom 0\n", "oom_kill", &v) < 0);
    CHECK(cgroup_parse_key("oom_kill x\n", "oom_kill", &v) < 0);
}

UNIT_MAIN(UNIT_CASE(proc_v1_memory_line), UNIT_CASE(proc_v2_line), UNIT_CASE(proc_without_memory),
          UNIT_CASE(mountinfo_lines), UNIT_CASE(dir_under_mounts), UNIT_CASE(limits_and_numbers),
          UNIT_CASE(keyed_counters))
