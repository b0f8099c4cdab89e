/* test_net_loopback's tests with io_uring batching switched off: the flush pass sends
 * with one sendmsg(2) per connection, the path taken where io_uring is unavailable. */
#define NET_TEST_PLAIN 1
#include "test_net_loopback.c"
