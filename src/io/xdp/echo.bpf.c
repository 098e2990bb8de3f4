/* netecho's XDP fast path: answers a UDP listener's datagrams in the driver, before any socket,
 * by turning the frame around (XDP_TX): MACs, addresses and ports swapped, the hop limit reset,
 * the payload echoed or reversed, the checksums updated. The socket listener stays behind it:
 * whatever this program is not sure of goes there (XDP_PASS) and is answered or refused by the
 * same guards in user space. So XDP_PASS is always the safe answer, and it is the answer to
 * everything this program does not parse: VLAN tags, IP options, fragments, IPv6 extension
 * headers, lengths that disagree, payloads larger than --udp-buffer or --udp-max, reverse
 * payloads over NETECHO_XDP_REVERSE_MAX, and a wildcard listener's datagram to an address that
 * is not in host_addrs.
 *
 * The guards of server/udp_guard.hpp hold here too, in the same order, and a refusal is an
 * XDP_DROP counted under its reason: source or destination not unicast (and an IPv4-mapped
 * source over IPv6), source port 0 or on the deny list, a datagram from one of the server's
 * own ports on a host address, and the per-source token bucket (IPv4 address, IPv6 /64).
 * Replies are exactly as long as their requests. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "xdp_abi.h"

const volatile struct netecho_xdp_config config = {};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, NETECHO_XDP_MAX_LISTENERS);
  __type(key, struct netecho_xdp_listener_key);
  __type(value, struct netecho_xdp_listener);
} listeners SEC(".maps");

/* The host's addresses, for the own-address guard and a wildcard listener's destinations. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, __u8[16]);
  __type(value, __u8);
} host_addrs SEC(".maps");

/* Token buckets, one per source (GCRA: the theoretical arrival time, ns). An LRU map, so a flood
 * of forged sources evicts the least recently seen, never by where a key hashes; and the kernel
 * seeds each hash map's hash with a random number when the map is made (BPF_F_ZERO_SEED
 * unset), so placement is keyed by a secret of this process's map. Two CPUs may update one
 * bucket at once and lose one step: a source gets at most a few replies more, never fewer. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u8[16]);
  __type(value, __u64);
} buckets SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, (NETECHO_XDP_MAX_LISTENERS + 1) * NETECHO_XDP_COUNTERS);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

struct datagram {
  __u8 src[16];
  __u8 dst[16];
  __u16 sport;  /* host order */
  __u16 dport;
  __u32 len;    /* payload bytes */
  __u8 family;  /* 4 or 6 */
};

static __always_inline void count(__u32 slot, __u32 which, __u64 n) {
  __u32 key = slot * NETECHO_XDP_COUNTERS + which;
  __u64 *v = bpf_map_lookup_elem(&counters, &key);
  if (v) {
    *v += n;
  }
}

static __always_inline int port_in(const volatile __u64 *set, __u16 port) {
  return (set[port >> 6] >> (port & 63)) & 1;
}

static __always_inline void map_v4(__u8 out[16], __be32 addr) {
  __builtin_memset(out, 0, 10);
  out[10] = 0xff;
  out[11] = 0xff;
  __builtin_memcpy(out + 12, &addr, 4);
}

static __always_inline int is_v4_mapped(const __u8 a[16]) {
  for (int i = 0; i < 10; i++) {
    if (a[i] != 0) {
      return 0;
    }
  }
  return a[10] == 0xff && a[11] == 0xff;
}

static __always_inline int is_zero(const __u8 a[16]) {
  for (int i = 0; i < 16; i++) {
    if (a[i] != 0) {
      return 0;
    }
  }
  return 1;
}

/* As udp_guard.cpp's is_unicast_address: not unspecified (0.0.0.0/8, ::), multicast
 * (224.0.0.0/4, ff00::/8) or the limited broadcast. */
static __always_inline int is_unicast(const __u8 a[16]) {
  if (is_v4_mapped(a)) {
    int broadcast = a[12] == 0xff && a[13] == 0xff && a[14] == 0xff && a[15] == 0xff;
    return a[12] != 0 && (a[12] & 0xf0) != 0xe0 && !broadcast;
  }
  return a[0] != 0xff && !is_zero(a);
}

static __always_inline int is_loopback(const __u8 a[16]) {
  if (is_v4_mapped(a)) {
    return a[12] == 127;
  }
  for (int i = 0; i < 15; i++) {
    if (a[i] != 0) {
      return 0;
    }
  }
  return a[15] == 1;
}

static __always_inline int same(const __u8 a[16], const __u8 b[16]) {
  for (int i = 0; i < 16; i++) {
    if (a[i] != b[i]) {
      return 0;
    }
  }
  return 1;
}

/* GCRA, as server::UdpRateLimiter: a reply is allowed while the bucket's time is at most
 * tolerance ahead of now; each reply moves it one interval on. */
static __always_inline int take_token(const struct datagram *d) {
  if (config.interval_ns == 0) {
    return 1;
  }
  __u8 key[16];
  __builtin_memcpy(key, d->src, 16);
  if (d->family == 6) {
    __builtin_memset(key + 8, 0, 8); /* a /64 is one source, as SourceKey */
  }
  __u64 now = bpf_ktime_get_ns();
  __u64 *tat = bpf_map_lookup_elem(&buckets, key);
  if (!tat) {
    __u64 next = now + config.interval_ns;
    bpf_map_update_elem(&buckets, key, &next, BPF_ANY);
    return 1;
  }
  __u64 t = *tat > now ? *tat : now;
  if (t - now > config.tolerance_ns) {
    return 0;
  }
  *tat = t + config.interval_ns;
  return 1;
}

enum decision { ANSWER, PASS, DROP };

/* What to do with d, arrived for a listener (or none) with a unicast destination MAC or not. */
static __always_inline enum decision decide(const struct datagram *d, int group_mac,
                                            __u32 *slot, __u32 *mode) {
  struct netecho_xdp_listener_key key = {};
  __builtin_memcpy(key.addr, d->dst, 16);
  key.port = d->dport;
  key.family = d->family;
  struct netecho_xdp_listener *l = bpf_map_lookup_elem(&listeners, &key);
  if (!l) {
    __builtin_memset(key.addr, 0, 16);
    l = bpf_map_lookup_elem(&listeners, &key);
    if (!l) {
      return PASS; /* not ours */
    }
  }
  *slot = l->index < NETECHO_XDP_MAX_LISTENERS ? l->index : NETECHO_XDP_MAX_LISTENERS;
  *mode = l->mode;
  /* What the socket path must see for itself: it answers or refuses and counts. */
  if (d->len > config.max_payload ||
      (l->mode == NETECHO_XDP_REVERSE && d->len > NETECHO_XDP_REVERSE_MAX) ||
      (l->wildcard && !group_mac && is_unicast(d->dst) &&
       !bpf_map_lookup_elem(&host_addrs, d->dst))) {
    count(*slot, NETECHO_XDP_PASSED, 1);
    return PASS;
  }
  if (group_mac || !is_unicast(d->dst) || !is_unicast(d->src) ||
      (d->family == 6 && is_v4_mapped(d->src))) {
    count(*slot, NETECHO_XDP_DENIED_ADDRESS, 1);
    return DROP;
  }
  if (d->sport == 0 || port_in(config.deny_ports, d->sport)) {
    count(*slot, NETECHO_XDP_DENIED_PORT, 1);
    return DROP;
  }
  if (port_in(config.own_ports, d->sport) &&
      (is_loopback(d->src) || same(d->src, d->dst) || bpf_map_lookup_elem(&host_addrs, d->src))) {
    count(*slot, NETECHO_XDP_DENIED_SELF, 1);
    return DROP;
  }
  if (!take_token(d)) {
    count(*slot, NETECHO_XDP_RATE_LIMITED, 1);
    return DROP;
  }
  return ANSWER;
}

/* Ones' complement arithmetic on sums of big-endian 16-bit words (RFC 1071). */
static __always_inline __u16 fold(__u32 s) {
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return (__u16)s;
}

/* RFC 1624, eqn. 3: the checksum after words summing to old_sum became words summing to
 * new_sum. check and the result in network order. */
static __always_inline __u16 csum_update(__u16 check, __u32 old_sum, __u32 new_sum) {
  __u32 s = (__u16)~bpf_ntohs(check);
  s += (__u16)~fold(old_sum);
  s += fold(new_sum);
  return bpf_htons((__u16)~fold(s));
}

/* Reverses the payload in place and returns the checksum delta as two sums: what its words
 * summed to before (*old_sum) and after (*new_sum). A byte at an even offset is the high byte
 * of its word. With an odd length, each byte keeps its offset's parity and the sums agree. */
static __always_inline int reverse(__u8 *p, void *end, __u32 len, __u32 *old_sum,
                                   __u32 *new_sum) {
  __u32 half = len / 2;
#pragma clang loop unroll(disable)
  for (__u32 i = 0; i < NETECHO_XDP_REVERSE_MAX / 2; i++) {
    if (i >= half) {
      break;
    }
    __u32 j = (len - 1 - i) & (NETECHO_XDP_REVERSE_MAX - 1);
    __u8 *a = p + i;
    __u8 *b = p + j;
    if ((void *)(a + 1) > end || (void *)(b + 1) > end) {
      return -1;
    }
    __u32 x = *a;
    __u32 y = *b;
    *a = (__u8)y;
    *b = (__u8)x;
    __u32 wa = (i & 1) ? 1 : 256;
    __u32 wb = (j & 1) ? 1 : 256;
    *old_sum += x * wa + y * wb;
    *new_sum += y * wa + x * wb;
  }
  return 0;
}

static __always_inline void swap_macs(struct ethhdr *eth) {
  __u8 tmp[ETH_ALEN];
  __builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
  __builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
  __builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
}

/* Turns the UDP header and payload around; the IP header is the caller's. */
static __always_inline int turn_udp(struct udphdr *udp, void *end, __u32 len, __u32 mode,
                                    int v6) {
  __be16 port = udp->source;
  udp->source = udp->dest;
  udp->dest = port;
  if (mode != NETECHO_XDP_REVERSE) {
    return 0; /* swapped addresses and ports leave the checksum as it was */
  }
  __u32 old_sum = 0;
  __u32 new_sum = 0;
  if (reverse((__u8 *)(udp + 1), end, len, &old_sum, &new_sum) < 0) {
    return -1;
  }
  if (udp->check != 0 || v6) {
    __u16 check = csum_update(udp->check, old_sum, new_sum);
    udp->check = check == 0 ? 0xffff : check; /* 0 means "no checksum" over IPv4 */
  }
  return 0;
}

/* Decides on d (its addresses filled in, its UDP header udp, whose length the caller checked)
 * and, to answer it, turns its UDP part around. XDP_TX: the caller turns the IP header around
 * and returns sent(). */
static __always_inline int turn_datagram(struct datagram *d, struct ethhdr *eth,
                                         struct udphdr *udp, void *end, __u32 *slot) {
  d->sport = bpf_ntohs(udp->source);
  d->dport = bpf_ntohs(udp->dest);
  d->len = bpf_ntohs(udp->len) - sizeof(*udp);
  __u32 mode = 0;
  enum decision what = decide(d, eth->h_dest[0] & 1, slot, &mode);
  if (what != ANSWER) {
    return what == PASS ? XDP_PASS : XDP_DROP;
  }
  if (turn_udp(udp, end, d->len, mode, d->family == 6) < 0) {
    return XDP_PASS;
  }
  return XDP_TX;
}

static __always_inline int sent(struct ethhdr *eth, __u32 slot, __u32 len) {
  swap_macs(eth);
  count(slot, NETECHO_XDP_ANSWERED, 1);
  count(slot, NETECHO_XDP_BYTES, len);
  return XDP_TX;
}

static __always_inline int on_ipv4(struct ethhdr *eth, void *end) {
  struct iphdr *ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > end) {
    return XDP_PASS;
  }
  if (ip->ihl != 5 || ip->version != 4 || ip->protocol != IPPROTO_UDP ||
      (ip->frag_off & bpf_htons(0x3fff)) != 0) {
    return XDP_PASS; /* options, fragments, other protocols */
  }
  struct udphdr *udp = (void *)(ip + 1);
  if ((void *)(udp + 1) > end) {
    return XDP_PASS;
  }
  __u32 total = bpf_ntohs(ip->tot_len);
  __u32 ulen = bpf_ntohs(udp->len);
  if (ulen < sizeof(*udp) || total != sizeof(*ip) + ulen ||
      (void *)ip + total > end) {
    return XDP_PASS; /* lengths that disagree: the stack's to judge */
  }
  struct datagram d = {.family = 4};
  map_v4(d.src, ip->saddr);
  map_v4(d.dst, ip->daddr);
  __u32 slot = 0;
  int verdict = turn_datagram(&d, eth, udp, end, &slot);
  if (verdict != XDP_TX) {
    return verdict;
  }
  __be32 addr = ip->saddr;
  ip->saddr = ip->daddr;
  ip->daddr = addr; /* the header's sum does not depend on the order of its words */
  __u32 old_word = ((__u32)ip->ttl << 8) | ip->protocol;
  ip->ttl = NETECHO_XDP_HOP_LIMIT;
  __u32 new_word = ((__u32)ip->ttl << 8) | ip->protocol;
  ip->check = csum_update(ip->check, old_word, new_word);
  return sent(eth, slot, d.len);
}

static __always_inline int on_ipv6(struct ethhdr *eth, void *end) {
  struct ipv6hdr *ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > end) {
    return XDP_PASS;
  }
  if (ip->version != 6 || ip->nexthdr != IPPROTO_UDP) {
    return XDP_PASS; /* extension headers, other protocols */
  }
  struct udphdr *udp = (void *)(ip + 1);
  if ((void *)(udp + 1) > end) {
    return XDP_PASS;
  }
  __u32 ulen = bpf_ntohs(udp->len);
  if (ulen < sizeof(*udp) || bpf_ntohs(ip->payload_len) != ulen ||
      (void *)udp + ulen > end || udp->check == 0) {
    return XDP_PASS; /* a zero checksum is invalid over IPv6: the stack drops it */
  }
  struct datagram d = {.family = 6};
  __builtin_memcpy(d.src, &ip->saddr, 16);
  __builtin_memcpy(d.dst, &ip->daddr, 16);
  __u32 slot = 0;
  int verdict = turn_datagram(&d, eth, udp, end, &slot);
  if (verdict != XDP_TX) {
    return verdict;
  }
  struct in6_addr addr = ip->saddr;
  ip->saddr = ip->daddr;
  ip->daddr = addr;
  ip->hop_limit = NETECHO_XDP_HOP_LIMIT; /* no header checksum in IPv6 */
  return sent(eth, slot, d.len);
}

SEC("xdp")
int netecho_echo(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end) {
    return XDP_PASS;
  }
  if (eth->h_proto == bpf_htons(ETH_P_IP)) {
    return on_ipv4(eth, end);
  }
  if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
    return on_ipv6(eth, end);
  }
  return XDP_PASS; /* VLAN tags (802.1Q, 802.1ad), ARP, everything else */
}

char LICENSE[] SEC("license") = "GPL";
