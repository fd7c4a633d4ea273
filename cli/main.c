/* main.c: placeholder until the shell lands. */
int main(void)
{
    return 0;
}
