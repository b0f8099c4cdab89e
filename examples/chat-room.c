/* The README's example: a chat room server in 30 lines of C (build/chat-room). */
#include <sioc.h>
#include <stdio.h>
#include <stdlib.h>

static void on_join(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack, void *arg)
{
    char room[64];
    (void)ev, (void)arg;
    if (sioc_args_string(a, 0, room, sizeof room) < 0)
        return; /* not a string: ignore */
    sioc_socket_join(s, room);
    sioc_socket_ack(s, ack, sioc_json("\"joined\""));
}

static void on_say(sioc_socket_t *s, sioc_str_t ev, const sioc_args_t *a, int64_t ack, void *arg)
{
    char room[64];
    const char *rooms[1] = {room};
    sioc_to_t to = {.rooms = rooms, .n_rooms = 1};
    (void)ev, (void)ack, (void)arg;
    if (sioc_args_string(a, 0, room, sizeof room) >= 0 && sioc_socket_in_room(s, room))
        sioc_socket_broadcast(s, &to, "said", sioc_args_tail(a, 1)); /* encoded once */
}

int main(int argc, char **argv)
{
    sioc_config_t cfg = {.port = argc > 1 ? atoi(argv[1]) : 3000, .stop_on_signals = true};
    sioc_server_t *srv = sioc_server_new(NULL, &cfg);
    sioc_on(sioc_of(srv, "/"), "join", on_join, NULL);
    sioc_on(sioc_of(srv, "/"), "say", on_say, NULL);
    if (sioc_server_listen(srv) != 0)
        return 1;
    printf("listening on 127.0.0.1:%d\n", sioc_server_port(srv));
    fflush(stdout);
    sioc_server_run(srv); /* until SIGINT or SIGTERM */
    sioc_server_free(srv);
    return 0;
}
