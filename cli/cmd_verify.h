/*
 * cmd_verify.h: the verify command, a check of every file of the open
 * database against the tree (cmd_verify.c says what it checks).
 */
#ifndef CLI_CMD_VERIFY_H
#define CLI_CMD_VERIFY_H

#include "commands.h"
#include "parse.h"

int cli_cmd_verify(cli_session *s, const cli_argv *a);

#endif
