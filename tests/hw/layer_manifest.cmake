# cmake -DIN=<VkLayer_khronos_validation.json> -DOUT=<copy> -P layer_manifest.cmake
# Copies the validation layer's manifest with library_path pointing at the library beside it
# ("./libVkLayer_khronos_validation.so"), so VK_LAYER_PATH=<that folder> works anywhere.
file(READ ${IN} json)
string(REGEX REPLACE "\"library_path\"[ \t]*:[ \t]*\"[^\"]*\"" "\"library_path\": \"./libVkLayer_khronos_validation.so\"" json "${json}")
file(WRITE ${OUT} "${json}")
