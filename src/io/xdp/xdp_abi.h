/* What the XDP program (echo.bpf.c) and its loader (fast_path.cpp) share: C with fixed-width
 * types only, since clang's BPF target and g++ both compile it. Addresses are 16 bytes, IPv4 as
 * ::ffff:a.b.c.d, the form server::SourceKey uses. */
#ifndef NETECHO_IO_XDP_XDP_ABI_H
#define NETECHO_IO_XDP_XDP_ABI_H

#include <linux/types.h>

/* UDP listeners one program serves; one more counter slot collects what matched none. */
#define NETECHO_XDP_MAX_LISTENERS 16
/* The largest payload reversed in the program: the verifier walks every iteration of the loop,
 * so the bound is what it accepts in reasonable time. A larger one goes to the socket path. */
#define NETECHO_XDP_REVERSE_MAX 512
/* Hop limit of every reply (IPv4 TTL, IPv6 hop limit), as Linux's default. */
#define NETECHO_XDP_HOP_LIMIT 64

/* Per listener, per CPU: index listener * NETECHO_XDP_COUNTERS + counter. */
enum netecho_xdp_counter {
  NETECHO_XDP_ANSWERED = 0,  /* sent back with XDP_TX */
  NETECHO_XDP_BYTES,         /* payload bytes of those (the same in and out) */
  NETECHO_XDP_PASSED,        /* for a listener, left to the socket path (see echo.bpf.c) */
  NETECHO_XDP_DENIED_PORT,   /* source port 0 or on the deny list: dropped */
  NETECHO_XDP_DENIED_SELF,   /* from one of the server's own UDP ports on a host address */
  NETECHO_XDP_DENIED_ADDRESS,/* source or destination not unicast, or a mapped source */
  NETECHO_XDP_RATE_LIMITED,  /* over the source's token bucket */
  NETECHO_XDP_COUNTERS
};

enum netecho_xdp_mode { NETECHO_XDP_ECHO = 0, NETECHO_XDP_REVERSE = 1 };

/* A listener: its address (all zero for a wildcard, per family) and port. */
struct netecho_xdp_listener_key {
  __u8 addr[16];
  __u16 port;    /* host order */
  __u8 family;   /* 4 or 6: a wildcard of one family does not match the other */
  __u8 pad;
};

struct netecho_xdp_listener {
  __u32 index;     /* its counter slot, below NETECHO_XDP_MAX_LISTENERS */
  __u32 mode;      /* enum netecho_xdp_mode */
  __u32 wildcard;  /* 1: the destination must be one of the host's addresses (host_addrs) */
  __u32 pad;
};

/* Set before the program is loaded (read-only data: the verifier sees the constants). */
struct netecho_xdp_config {
  __u64 interval_ns;   /* between replies to one source at the steady rate; 0: no limit */
  __u64 tolerance_ns;  /* (burst - 1) intervals */
  __u32 max_payload;   /* larger payloads go to the socket path (--udp-buffer, --udp-max) */
  __u32 pad;
  __u64 deny_ports[1024];  /* bit p: source port p is refused */
  __u64 own_ports[1024];   /* bit p: one of the server's UDP listeners is on port p */
};

#endif
