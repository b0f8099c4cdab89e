/*
 * log: leveled one-line logging to stderr (base layer, STYLE rule 32).
 *
 * LOG() tests the level before it evaluates its arguments, and LOG_DEBUG/LOG_TRACE
 * compile to nothing unless SIOC_DEBUG_LOG is defined. The level is process-wide
 * read-only configuration, set once at start-up before the loop runs (the one kind of
 * global STYLE rule 28 allows). Lines are written with a single write(2), so lines from
 * several threads do not interleave. Anything a peer can trigger must go through
 * LOG_RATELIMITED so a hostile client cannot flood the log.
 */
#ifndef SIOC_BASE_LOG_H
#define SIOC_BASE_LOG_H

#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3, LOG_TRACE = 4 };

extern int log_level_config; /* set once by log_set_level, read-only afterwards */

/** Sets the level; call before starting any loop. */
void log_set_level(enum log_level level);
/** Parses "ERROR", "WARNING"/"WARN", "INFO", "DEBUG", "TRACE" (any case); -1 if unknown. */
int log_level_parse(const char *name);

void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG(level, ...)                                                                            \
    do {                                                                                           \
        if ((int)(level) <= log_level_config)                                                      \
            log_write((level), __VA_ARGS__);                                                       \
    } while (0)

#define LOG_ERR(...) LOG(LOG_ERROR, __VA_ARGS__)
#define LOG_WARNING(...) LOG(LOG_WARN, __VA_ARGS__)
#define LOG_INFO_(...) LOG(LOG_INFO, __VA_ARGS__)

/**
 * Rate-limited log for peer-triggered events: logs the first time and then once per
 * `every` occurrences, counted in the caller-owned `counter` (a field of the object
 * that owns the event source, never a global).
 */
#define LOG_RATELIMITED(level, counter, every, ...)                                                \
    do {                                                                                           \
        if (((counter)++ % (every)) == 0)                                                          \
            LOG((level), __VA_ARGS__);                                                             \
    } while (0)

#endif
