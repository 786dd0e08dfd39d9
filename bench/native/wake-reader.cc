// The reading side of the wake-all benchmarks, in C++ so that the load generator costs the
// server as little CPU as possible: on a 2-core machine a Node reader of 10,000 answers is itself
// the bottleneck (a bare node:http server measures ~250 ms p99 with it).
//
//   wake-reader <host> <port[,port...]> <path> <count> <timeout-ms> [linger-ms]
//
// Opens `count` connections (round-robin over the ports), sends one `GET <path>` on each, then
// prints "ready" and reads every answer with epoll. For each connection it prints one line
// "<status> <x-consul-index> <done-ns>" (done-ns: CLOCK_MONOTONIC of the answer's last byte, the
// clock of Node's process.hrtime; 0 when the answer did not complete) once all answers are in or
// the timeout (from "ready") passes, then exits (after `linger-ms` more with its connections still
// open, so that a profile of the server can end before they close).
#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

struct Conn {
  int fd = -1;
  std::string head;      // bytes up to the end of the headers
  long long need = -1;   // total bytes of the answer, once the headers are in
  long long got = 0;
  int status = 0;
  long long index = 0;
  long long done_ns = 0;
};

long long now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

// The value of header `name` (lower case, with the colon) in `head`, or -1.
long long header_number(const std::string& head, const char* name) {
  const size_t len = strlen(name);
  size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string::npos) {
    pos += 2;
    if (head.size() - pos < len) break;
    if (strncasecmp(head.c_str() + pos, name, len) == 0) return atoll(head.c_str() + pos + len);
  }
  return -1;
}

void on_bytes(Conn& c, const char* data, size_t n) {
  if (c.need < 0) {
    const size_t before = c.head.size();
    c.head.append(data, n);
    const size_t end = c.head.find("\r\n\r\n");
    if (end == std::string::npos) return;
    c.status = atoi(c.head.c_str() + 9);
    c.index = header_number(c.head, "x-consul-index:");
    const long long length = header_number(c.head, "content-length:");
    c.need = static_cast<long long>(end) + 4 + (length < 0 ? 0 : length);
    c.got = static_cast<long long>(before + n);
    c.head.resize(end + 4);
  } else {
    c.got += static_cast<long long>(n);
  }
  if (c.got >= c.need && c.done_ns == 0) c.done_ns = now_ns();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6 && argc != 7) {
    fprintf(stderr, "usage: wake-reader <host> <port[,port...]> <path> <count> <timeout-ms> [linger-ms]\n");
    return 2;
  }
  const char* host = argv[1];
  std::vector<int> ports;
  for (char* p = strtok(argv[2], ","); p != nullptr; p = strtok(nullptr, ",")) ports.push_back(atoi(p));
  const std::string request = std::string("GET ") + argv[3] + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
  const int count = atoi(argv[4]);
  const long long timeout_ns = atoll(argv[5]) * 1000000LL;
  if (ports.empty() || count <= 0) return 2;

  std::vector<Conn> conns(static_cast<size_t>(count));
  for (int i = 0; i < count; i++) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(ports[static_cast<size_t>(i) % ports.size()]));
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) return 2;
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
      perror("socket");
      return 1;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      perror("connect");
      return 1;
    }
    if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
      perror("write");
      return 1;
    }
    conns[static_cast<size_t>(i)].fd = fd;
  }

  const int ep = epoll_create1(0);
  for (int i = 0; i < count; i++) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[static_cast<size_t>(i)].fd, &ev);
  }
  printf("ready\n");
  fflush(stdout);

  const long long deadline = now_ns() + timeout_ns;
  int open = count;
  std::vector<epoll_event> events(1024);
  static char buf[1 << 16];
  while (open > 0) {
    const long long left_ms = (deadline - now_ns()) / 1000000LL;
    if (left_ms <= 0) break;
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), static_cast<int>(left_ms));
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("epoll_wait");
      return 1;
    }
    for (int k = 0; k < n; k++) {
      Conn& c = conns[events[static_cast<size_t>(k)].data.u32];
      const ssize_t r = read(c.fd, buf, sizeof buf);
      if (r > 0) {
        on_bytes(c, buf, static_cast<size_t>(r));
        if (c.done_ns == 0) continue;
      }
      if (r < 0 && errno == EINTR) continue;
      // Done, closed by the server, or failed: stop watching it (the socket stays open).
      epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
      open--;
    }
  }
  for (const Conn& c : conns) printf("%d %lld %lld\n", c.status, c.index, c.done_ns);
  fflush(stdout);
  if (argc == 7) usleep(static_cast<useconds_t>(atoll(argv[6]) * 1000LL));
  return 0;
}
