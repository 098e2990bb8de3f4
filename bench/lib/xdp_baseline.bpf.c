/* The baselines bench/xdp measures netecho's XDP program against, on the same veth pair:
 *
 *   xdp_pass  lets every frame through. The client's end of the pair runs it in every row:
 *             on veth, a frame sent back with XDP_TX reaches the peer only when the peer runs
 *             an XDP program too (veth then receives it in its NAPI poll).
 *   xdp_drop  drops every frame: what veth costs the server's CPU to receive a datagram and
 *             run a program on it, with nothing sent back.
 *   xdp_swap  the least an XDP echo can do: every IPv4 UDP datagram without options goes back
 *             with its MACs, addresses and ports swapped (the checksums stay valid: a swap
 *             does not change a one's-complement sum), everything else passes. No listener
 *             lookup, no guard, no counter: what veth costs to receive a datagram and send it
 *             back, plus a few nanoseconds.
 *
 * Compiled by bench/xdp at run time (clang's BPF target) and loaded with iproute2. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx) {
  (void)ctx;
  return XDP_PASS;
}

SEC("xdp")
int xdp_drop(struct xdp_md *ctx) {
  (void)ctx;
  return XDP_DROP;
}

SEC("xdp")
int xdp_swap(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  struct iphdr *ip = (void *)(eth + 1);
  struct udphdr *udp = (void *)(ip + 1);
  if ((void *)(udp + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 ||
      ip->protocol != IPPROTO_UDP) {
    return XDP_PASS;
  }
  unsigned char mac[ETH_ALEN];
  __builtin_memcpy(mac, eth->h_source, ETH_ALEN);
  __builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
  __builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
  __be32 addr = ip->saddr;
  ip->saddr = ip->daddr;
  ip->daddr = addr;
  __be16 port = udp->source;
  udp->source = udp->dest;
  udp->dest = port;
  return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
