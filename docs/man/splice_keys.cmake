# cmake -DIN=page.scd.in -DKEYS=keys.scd -DOUT=page.scd -P splice_keys.cmake
# Replaces the line %%KEYS%% of IN with the generated key reference.
file(READ ${IN} page)
file(READ ${KEYS} keys)
string(FIND "${page}" "%%KEYS%%" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${IN} has no %%KEYS%% line")
endif()
string(REPLACE "%%KEYS%%" "${keys}" page "${page}")
file(WRITE ${OUT} "${page}")
