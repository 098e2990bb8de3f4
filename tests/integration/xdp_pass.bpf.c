/* The client side of the veth tests: XDP_TX on one end of a veth pair delivers a frame only
 * when the other end runs an XDP program too (veth then runs its NAPI receive path), so the
 * client's end gets this one, which lets everything through. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx) {
  (void)ctx;
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
