# cmake -DIN=<file> -DOUT=<file.c> -DNAME=<symbol> -P embed_data.cmake:
# writes `const unsigned char NAME[]` (the bytes of IN, then a NUL) and
# `const size_t NAME_len` (without the NUL).
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE ${OUT} "#include <stddef.h>\nconst unsigned char ${NAME}[] = {${body}0x00};\n"
     "const size_t ${NAME}_len = ${len};\n")
